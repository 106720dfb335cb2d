"""The new families' response checks, links, priors and weights: named errors, nothing lost.

No sampling here: each check fails when the model is built.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesmix as bm


@pytest.fixture
def df():
    rng = np.random.default_rng(3)
    n = 40
    return pd.DataFrame(
        {
            "y": rng.gamma(2.0, 1.0, n),
            "count": rng.poisson(3.0, n),
            "prop": rng.beta(2, 3, n),
            "rating": rng.integers(1, 6, n),
            "x": rng.normal(size=n),
            "g": np.repeat(list("abcd"), n // 4),
            "w": rng.integers(1, 4, n).astype(float),
        }
    )


def test_counts_must_be_non_negative_integers(df):
    df["count"] = df["count"].astype(float)
    df.loc[[2, 9], "count"] = [-1, 3]
    df.loc[11, "count"] = 2.5
    with pytest.raises(bm.DataError, match=r"non-negative integers.*2 row\(s\): rows \[2, 11\]"):
        bm.Model("count ~ x + (1 | g)", df, family="negbinomial")


def test_beta_names_rows_at_zero_or_one(df):
    df.loc[[4, 30], "prop"] = [0.0, 1.0]
    with pytest.raises(bm.DataError, match=r"strictly between 0 and 1.*2 row\(s\): rows \[4, 30\]"):
        bm.Model("prop ~ x + (1 | g)", df, family="beta")


@pytest.mark.parametrize("family", ["gamma", "lognormal"])
def test_positive_families_name_non_positive_rows(df, family):
    df.loc[[5], "y"] = 0.0
    df.loc[[8], "y"] = -2.0
    with pytest.raises(bm.DataError, match=r"positive response.*2 row\(s\): rows \[5, 8\]"):
        bm.Model("y ~ x + (1 | g)", df, family=family)


def test_cumulative_refuses_unordered_and_non_integer_responses(df):
    labels = pd.Categorical(np.array(list("abc"))[df.rating.to_numpy() % 3])
    with pytest.raises(bm.DataError, match="unordered categorical.*ordered=True"):
        bm.Model("r ~ x + (1 | g)", df.assign(r=labels), family="cumulative")
    with pytest.raises(bm.DataError, match="must be integers.*rows \\[0\\]"):
        bm.Model("r ~ x + (1 | g)", df.assign(r=df.rating.where(df.index != 0, 2.5)), family="cumulative")
    with pytest.raises(bm.DataError, match="ordered categorical or integer"):
        bm.Model("r ~ x + (1 | g)", df.assign(r=df.rating.astype(str)), family="cumulative")
    gap = df.rating.replace(3, 4)
    with pytest.raises(bm.DataError, match=r"no row has \[3\]"):
        bm.Model("r ~ x + (1 | g)", df.assign(r=gap), family="cumulative")


def test_cumulative_takes_ordered_categories_and_integers_without_an_intercept(df):
    order = ["poor", "fair", "good", "very good", "excellent"]
    cat = pd.Categorical(np.array(order)[df.rating - 1], categories=order, ordered=True)
    m = bm.Model("r ~ x + (1 | g)", df.assign(r=cat), family="cumulative")
    assert m.design.terms == ("x",)  # the cutpoints replace the intercept
    np.testing.assert_array_equal(m.response_data["y"], df.rating - 1)
    assert [k for k in m.priors if m.priors.entry(k).cls == "Intercept"] == ["Intercept"]
    m2 = bm.Model("rating ~ x + (1 | g)", df, family="ordinal", link="probit")
    np.testing.assert_array_equal(m2.response_data["scores"], [1, 2, 3, 4, 5])
    # a categorical predictor keeps its treatment contrasts (no dummy for the first level)
    m3 = bm.Model("rating ~ g2 + (1 | g)", df.assign(g2=np.tile(list("pqr"), 14)[:40]), family="cumulative")
    assert m3.design.terms == ("g2[T.q]", "g2[T.r]")


def test_links_and_family_names(df):
    with pytest.raises(bm.ArgumentError, match="link"):
        bm.Model("count ~ x", df, family="negbinomial", link="identity")
    with pytest.raises(bm.ArgumentError, match="negbinomial"):
        bm.Model("count ~ x", df, family="zip")


def test_default_priors_use_brms_names(df):
    pri = {k: str(v) for k, v in bm.Model("y ~ x + (1 | g)", df, family="student").priors.items()}
    assert pri["nu"] == "gamma(2, 0.1)" and pri["sigma"].startswith("half_student_t(3,")
    pri = {k: str(v) for k, v in bm.Model("count ~ x", df, family="negbinomial").priors.items()}
    assert pri["shape"] == "gamma(0.01, 0.01)"
    pri = {k: str(v) for k, v in bm.Model("prop ~ x", df, family="beta").priors.items()}
    assert pri["phi"] == "gamma(0.01, 0.01)"
    m = bm.Model("count ~ x", df, family="negbinomial", priors={"shape": "exponential(1)"})
    assert str(m.priors["shape"]) == "exponential(1)"
    with pytest.raises(bm.PriorError, match="nu"):
        bm.Model("count ~ x", df, family="negbinomial", priors={"nu": "gamma(2, 0.1)"})


def test_weights_are_checked_by_row(df):
    with pytest.raises(bm.ArgumentError, match="weights"):
        bm.Model("y ~ x", df, weights="nope")
    with pytest.raises(bm.DataError, match=r"positive and finite.*rows \[3\]"):
        bm.Model("y ~ x", df.assign(w=df.w.where(df.index != 3, 0.0)), weights="w")
    with pytest.raises(bm.ArgumentError, match="weights_kind"):
        bm.Model("count ~ x", df, family="poisson", weights="w", weights_kind="analytic")
    m = bm.Model("y ~ x + (1 | g)", df, weights="w")
    assert "w" in m.data.columns and m.spec()["weights"] == "w"


def test_brms_distributional_formula_gets_a_clear_error(df):
    with pytest.raises(bm.FormulaError, match=r"bf\(\) formulas are not supported"):
        bm.Model("bf(y ~ x, sigma ~ x)", df)


def test_simulation_needs_the_family_parameters(df):
    m = bm.Model("count ~ x + (1 | g)", df, family="negbinomial")
    base = {"b": {"Intercept": 1.0, "x": 0.2}, "sd": {"g": 0.3}}
    with pytest.raises(bm.ArgumentError, match="needs 'shape'"):
        m.simulate(base, seed=1)
    with pytest.raises(bm.ArgumentError, match="no such parameter"):
        m.simulate(base | {"shape": 2.0, "sigma": 1.0}, seed=1)
    sim = m.simulate(base | {"shape": 2.0}, seed=1)
    assert sim.attrs["params"]["shape"] == 2.0 and (sim["count"] >= 0).all()
    o = bm.Model("rating ~ x + (1 | g)", df, family="cumulative")
    with pytest.raises(bm.ArgumentError, match="increasing"):
        o.simulate({"b": {"x": 0.5}, "sd": {"g": 0.3}, "Intercept": [0.0, -1.0, 1.0, 2.0]}, seed=1)
    sim = o.simulate({"b": {"x": 0.5}, "sd": {"g": 0.3}, "Intercept": [-1.0, 0.0, 1.0, 2.0]}, seed=1)
    assert set(sim["rating"]) <= {1, 2, 3, 4, 5}


@pytest.mark.parametrize(
    "family, response",
    [
        ("student", "y"),
        ("lognormal", "y"),
        ("gamma", "y"),
        ("beta", "prop"),
        ("negbinomial", "count"),
        ("cumulative", "rating"),
    ],
)
def test_every_family_builds_with_uncorrelated_nested_and_level_two_terms(df, family, response):
    """Graphs build (no sampling) for ||-bars, nested factors and a level-two predictor."""
    df = df.assign(h=np.tile(list("xy"), 20), z=df.g.map({"a": -1.0, "b": 0.0, "c": 0.5, "d": 1.5}))
    formula = f"{response} ~ x + z + (x || g) + (1 | g:h)"
    m = bm.Model(formula, df, family=family)
    assert [t.term for t in m.design.level2] == ["z"]  # z is constant within g: a level-two predictor
    free = set(m.built.free_names)
    assert {"sd_g", "sd_g:h"} <= free
    assert ("_Intercept_c" in free) == (family != "cumulative")  # cutpoints replace the intercept
    extra = {"student": {"sigma", "nu"}, "lognormal": {"sigma"}, "gamma": {"shape"}, "beta": {"phi"}}
    extra |= {"negbinomial": {"shape"}, "cumulative": {"Intercept"}}
    assert extra[family] <= set(m.built.aux)
    assert set(m.built.centered) == {"g", "g:h"}


def test_family_lines_say_what_the_extra_parameters_are():
    from_name = bm.spec.families.get_family
    assert from_name("gaussian").describe({}) == "gaussian (link: identity)"
    assert from_name("negbinomial").describe({}) == "negbinomial (link: log; shape: variance mu + mu^2/shape)"
    assert (
        from_name("cumulative", "probit").describe({"scores": [1, 2, 3]})
        == "cumulative (link: probit; 2 cutpoints)"
    )
    assert "on log y" in from_name("lognormal").describe({})
