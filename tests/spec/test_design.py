import numpy as np
import pandas as pd
import pytest

import bayesmix as bm
from bayesmix.errors import DataError
from bayesmix.spec.design import make_design


@pytest.fixture
def toy():
    rng = np.random.default_rng(0)
    n = 60
    return pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "x": rng.normal(size=n),
            "pos": rng.uniform(1, 5, size=n),
            "dose": rng.integers(1, 4, size=n),
            "color": rng.choice(["red", "green", "blue"], size=n),
            "g": rng.integers(1, 13, size=n),  # integer codes: labels, not numbers
            "a": rng.choice(["A", "B", "C"], size=n),
            "b": rng.choice(["u", "v"], size=n),
        }
    )


def test_sleepstudy_coordinates():
    d = make_design("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"))
    assert d.terms == ("Intercept", "Days")
    (f,) = d.factors
    assert f.name == "Subject" and f.n_levels == 18 and f.levels[0] == "308"
    assert f.coefs == ("Intercept", "Days") and f.blocks == ((0, 1),)
    coords = d.coords()
    assert coords["Subject__coef"] == ["Intercept", "Days"]
    assert coords["Subject__cor"] == ["Intercept__Days"]


def test_strings_get_treatment_contrasts_numbers_stay_numeric(toy):
    d = make_design("y ~ x + color + dose + (1|g)", toy)
    assert d.terms == ("Intercept", "x", "color[T.green]", "color[T.red]", "dose")
    d = make_design("y ~ C(dose) + (1|g)", toy)
    assert d.terms == ("Intercept", "C(dose)[T.2]", "C(dose)[T.3]")


def test_pandas_categorical_uses_its_level_order(toy):
    toy["color"] = pd.Categorical(toy["color"], categories=["red", "green", "blue"])
    d = make_design("y ~ color + (1|g)", toy)
    assert d.terms == ("Intercept", "color[T.green]", "color[T.blue]")


def test_integer_grouping_codes_are_labels_sorted_numerically(toy):
    d = make_design("y ~ x + (1|g)", toy)
    assert d.factors[0].levels == tuple(str(i) for i in range(1, 13))
    assert np.array_equal(np.array(d.factors[0].levels)[d.factors[0].index], toy["g"].astype(str).to_numpy())


def test_interactions_and_transforms(toy):
    d = make_design("y ~ x*color + np.log(pos) + (1|g)", toy)
    assert "x:color[T.red]" in d.terms and "np.log(pos)" in d.terms
    d = make_design("y ~ center(x) + scale(pos) + (1|g)", toy)
    assert abs(d.X[:, d.terms.index("center(x)")].mean()) < 1e-12
    assert abs(d.X[:, d.terms.index("scale(pos)")].std(ddof=1) - 1) < 1e-12
    d = make_design("y ~ x + a:b + (1|g)", toy)
    assert any(t.startswith("a[") and ":b[" in t for t in d.terms)


def test_nested_and_uncorrelated_terms(toy):
    d = make_design("y ~ x + (1|a/b) + (x||g)", toy)
    names = [f.name for f in d.factors]
    assert names == ["a", "a:b", "g"]
    assert d.factor("a:b").levels[:2] == ("A:u", "A:v")
    g = d.factor("g")
    assert g.coefs == ("Intercept", "x") and g.blocks == ((0,), (1,)) and g.cor_pairs() == []


def test_two_terms_on_one_factor_merge(toy):
    d = make_design("y ~ x + (1|g) + (0 + x|g)", toy)
    (f,) = d.factors
    assert f.coefs == ("Intercept", "x") and f.blocks == ((0,), (1,))


def test_slope_only_and_minus_one(toy):
    for text in ("y ~ x + (0 + x|g)", "y ~ x + (-1 + x|g)"):
        assert make_design(text, toy).factors[0].coefs == ("x",)


def test_encode_new_data_reuses_levels_and_stateful_transforms(toy):
    d = make_design("y ~ scale(x) + color + (x|g)", toy)
    new = toy.iloc[[3, 7]].copy()
    enc = d.encode(new)
    np.testing.assert_allclose(enc.X, d.X[[3, 7]])
    np.testing.assert_allclose(enc.Z["g"], d.factors[0].Z[[3, 7]])
    assert list(enc.index["g"]) == list(d.factors[0].index[[3, 7]])
    # a level never seen in fitting is an error by default; allowed, it gets -1; a single-row frame
    # keeps all contrast columns
    new2 = toy.iloc[[0]].assign(g=999)
    with pytest.raises(DataError, match=r"factor 'g' has levels not in the fitted data: \['999'\]"):
        d.encode(new2)
    enc2 = d.encode(new2, new_levels="allow")
    assert enc2.index["g"][0] == -1 and enc2.X.shape == (1, d.X.shape[1])


def test_missing_values_dropped_with_count(toy):
    toy.loc[[2, 5], "x"] = np.nan
    toy.loc[9, "g"] = None
    with pytest.warns(UserWarning, match=r"dropped 3 of 60 rows"):
        d = make_design("y ~ x + (1|g)", toy)
    assert d.n_obs == 57 and d.n_dropped == 3 and 5 not in d.rows


def test_missing_values_raise_naming_rows(toy):
    toy.loc[[2, 5], "x"] = np.nan
    with pytest.raises(bm.DataError, match=r"rows \[2, 5\]"):
        make_design("y ~ x + (1|g)", toy, na_action="raise")


def test_unused_columns_with_missing_values_do_not_drop_rows(toy):
    toy["unused"] = np.nan
    assert make_design("y ~ x + (1|g)", toy).n_obs == 60


def test_factor_named_like_a_model_variable_gets_a_distinct_level_dim(toy):
    d = make_design("y ~ x + (1|b)", toy.drop(columns="b").rename(columns={"g": "b"}))
    (f,) = d.factors
    assert f.name == "b" and f.dim == "b__level" and "b__level" in d.coords()


def test_duplicate_column_names_are_named(toy):
    dup = pd.concat([toy, toy[["x"]]], axis=1)
    with pytest.raises(bm.DataError, match="column name 'x' appears 2 times"):
        make_design("y ~ x + (1|g)", dup)
