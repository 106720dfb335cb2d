"""Degenerate designs get named errors or warnings, as lme4 gives them (issue 11, item 6)."""

import warnings

import numpy as np
import pandas as pd
import pytest

import bayesmix as bm
from bayesmix.errors import DataError
from bayesmix.spec.formula import parse_formula


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    n = 40
    return pd.DataFrame({"y": rng.normal(size=n), "x": rng.normal(size=n), "g": np.repeat(list("abcd"), 10)})


def test_as_many_levels_as_rows_is_an_error_for_gaussian_models(data):
    with pytest.raises(DataError, match=r"'id' has 40 levels for 40 observations"):
        bm.Model("y ~ x + (1 | id)", data.assign(id=np.arange(len(data))))
    # observation-level effects are a standard overdispersion model for counts: allowed
    counts = data.assign(id=np.arange(len(data)), k=np.arange(len(data)) % 5)
    assert bm.Model("k ~ x + (1 | id)", counts, family="poisson").design.factors[0].n_levels == 40


def test_a_continuous_grouping_column_warns(data):
    with pytest.warns(UserWarning, match="grouping column 'z' holds continuous numbers"):
        bm.Model("y ~ x + (1 | z)", data.assign(z=np.tile([0.5, 1.5, 2.5, 3.5], 10)))


def test_infinite_group_labels_are_named(data):
    z = np.where(np.arange(len(data)) < 20, 1.0, np.inf)
    with pytest.raises(DataError, match=r"grouping column 'z' has infinite values in rows \[20"):
        bm.Model("y ~ x + (1 | z)", data.assign(z=z))


def test_interaction_levels_stay_distinct():
    df = pd.DataFrame(
        {"y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "p": ["a:b", "a", "a:b", "a", "q", "q"], "q": ["c", "b:c"] * 3}
    )
    m = bm.Model("y ~ 1 + (1 | p:q)", df)
    assert m.design.factors[0].n_levels == 4  # ("a:b","c"), ("a","b:c"), ("q","c"), ("q","b:c")


def test_collinearity_check_is_scale_invariant(data):
    m = bm.Model("y ~ x9 + (1 | g)", data.assign(x9=data.x + 1e9))
    assert "x9" in m.design.terms
    with pytest.raises(DataError, match=r"'c' is a linear combination of 'Intercept' \(it is constant\)"):
        bm.Model("y ~ x + c + (1 | g)", data.assign(c=3.0))
    with pytest.raises(DataError, match="'x2' is a linear combination"):
        bm.Model("y ~ x + x2 + (1 | g)", data.assign(x2=2e-9 * data.x))


@pytest.mark.parametrize(
    "formula, fixed",
    [("y ~ x + (1|g) - 1", "x - 1"), ("y ~ -1 + x + (1|g)", "-1 + x"), ("y ~ x + (1|é)", "x")],
)
def test_lme4_formulas_accepted(formula, fixed):
    assert parse_formula(formula).fixed == fixed


def test_intercept_removed_after_a_bar(data):
    m = bm.Model("y ~ x + (1|g) - 1", data)
    assert m.design.terms == ("x",)
    m = bm.Model("y ~ x + (1|é)", data.rename(columns={"g": "é"}))
    assert m.design.factors[0].name == "é"


def test_extreme_scales_come_with_advice_to_rescale(data):
    tiny = data.assign(y=data.y * 1e-12)
    model = bm.Model("y ~ x + (1 | g)", tiny)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(draws=30, tune=30, chains=2, seed=1, progressbar=False)
    text = " ".join(str(w.message) for w in caught if issubclass(w.category, bm.ConvergenceWarning))
    assert "extreme scale" in text and "rescale" in text


def test_a_date_predictor_is_named(data):
    with pytest.raises(DataError, match=r"predictor column 't' holds dates"):
        bm.Model("y ~ t + (1 | g)", data.assign(t=pd.date_range("2020-01-01", periods=len(data))))
