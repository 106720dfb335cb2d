"""Level-two (group-level) predictors: two ways of writing the model, references, recovery, errors.

Tolerances: (a) and (b) build the identical design, so with one seed the draws are
identical and with different seeds the posterior means differ by Monte Carlo error
only (< 0.2 posterior SD: with bulk ESS >= 400 the difference of two runs has SD
<= 0.07 SD); lme4/brms tolerances as in test_reference.py; simulated true values
inside their central 95% intervals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _util import quiet_fit

import bayesmix as bm
from bayesmix.errors import FormulaError


@pytest.fixture(scope="module")
def radon():
    return bm.datasets.load("radon")


@pytest.fixture(scope="module")
def slopes_data():
    """60 groups; W shifts both the intercept and the slope of x."""
    rng = np.random.default_rng(404)
    J, n = 60, 25
    W = rng.normal(size=J)
    g = np.repeat(np.arange(J), n)
    u0, u1 = rng.normal(0, 0.5, J), rng.normal(0, 0.3, J)
    b0 = 1.0 + 0.8 * W + u0
    b1 = 0.5 - 0.4 * W + u1
    x = rng.normal(size=J * n)
    y = b0[g] + b1[g] * x + rng.normal(0, 1.0, J * n)
    df = pd.DataFrame({"y": y, "x": x, "g": [f"G{j:02d}" for j in g], "W": W[g]})
    gd = pd.DataFrame({"g": [f"G{j:02d}" for j in range(J)], "W": W})
    return df, gd


def test_one_formula_and_level2_spec_give_the_same_design(radon):
    a = bm.Model("log_radon ~ floor + log_uranium + floor:log_uranium + (1 + floor | county)", radon)
    b = bm.Model(
        "log_radon ~ floor + (1 + floor | county)",
        radon,
        level2={"county": {"Intercept": "~ log_uranium", "floor": "~ log_uranium"}},
    )
    assert a.design.terms == b.design.terms
    np.testing.assert_array_equal(a.design.X, b.design.X)
    for d in (a.design, b.design):
        assert [(t.factor, t.coef, t.predictor, t.term) for t in d.level2] == [
            ("county", "Intercept", "log_uranium", "log_uranium"),
            ("county", "floor", "log_uranium", "floor:log_uranium"),
        ]


def test_level2_values_are_per_group(radon):
    m = bm.Model("log_radon ~ floor + log_uranium + (1 | county)", radon)
    (t,) = m.design.level2
    f = m.design.factor("county")
    expected = radon.groupby("county")["log_uranium"].first().loc[list(f.levels)].to_numpy()
    np.testing.assert_allclose(t.values, expected)


def test_graph_computes_level2_on_group_rows(radon):
    """The level-two column's contribution is W @ gamma on the 85 county rows, gathered to 919."""
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.basic import Constant
    from pytensor.graph.traversal import ancestors

    m = bm.Model("log_radon ~ floor + log_uranium + (1 | county)", radon, centered=False)
    # data enter the graph as shared inputs (bayesmix.build.data_slot); look at every array in it
    consts = [
        c.data if isinstance(c, Constant) else c.get_value()
        for c in ancestors([m.pymc_model.logp()])
        if isinstance(c, Constant | SharedVariable)
    ]
    consts = [np.asarray(c) for c in consts if np.ndim(c) >= 1]
    uranium_by_county = m.design.level2[0].values
    # log_uranium enters as its 85 county values, never as a 919-row column
    assert any(c.size == 85 and np.allclose(c.reshape(-1), uranium_by_county) for c in consts)
    n_row = radon["log_uranium"].to_numpy()
    assert not any(c.shape[0] == 919 and c.ndim == 1 and np.allclose(c, n_row) for c in consts)
    assert not any(c.ndim == 2 and c.shape[0] == 919 and c.shape[1] > 1 for c in consts)


@pytest.mark.slow
def test_radon_uranium_both_ways_against_references(radon, lme4_ref, brms_ref):
    a = quiet_fit(bm.Model("log_radon ~ floor + log_uranium + (1 | county)", radon))
    b = quiet_fit(
        bm.Model(
            "log_radon ~ floor + (1 | county)", radon, level2={"county": {"Intercept": "~ log_uranium"}}
        ),
        seed=2,
    )
    sa, sb = a.summary(), b.summary()
    for p in sa.index:
        assert abs(sa.loc[p, "mean"] - sb.loc[p, "mean"]) < 0.2 * sa.loc[p, "sd"], p
    ref = lme4_ref["radon_uranium_reml"]
    fx = a.fixef()
    for term, value in ref["fixef"].items():
        row = fx.loc["Intercept" if term == "(Intercept)" else term]
        assert abs(row["mean"] - value) <= 0.3 * row["sd"], term
    row = a.varcorr().loc[("county", "Intercept", "")]
    assert row["q2.5"] <= ref["varcorr"][0]["sdcor"] <= row["q97.5"]
    # brms with its default priors
    entry = brms_ref["radon_uranium"]
    c = quiet_fit(
        bm.Model(
            "log_radon ~ floor + log_uranium + (1 | county)",
            radon,
            priors={
                "Intercept": "student_t(3, 1.3, 2.5)",
                "b": "flat",
                "sd": "student_t(3, 0, 2.5)",
                "sigma": "student_t(3, 0, 2.5)",
            },
        )
    )
    table = c.summary()
    for s in entry["summary"]:
        row = table.loc[s["variable"]]
        assert abs(row["mean"] - s["mean"]) <= 0.15 * s["sd"], s["variable"]
        assert abs(row["sd"] / s["sd"] - 1) <= 0.15, s["variable"]
    # the report labels the level-two coefficients
    text = repr(a)
    assert "Level-two coefficients (~county" in text and "g01 Intercept ~ log_uranium" in text


@pytest.mark.slow
def test_slopes_as_outcomes_recovery_both_ways(slopes_data):
    df, gd = slopes_data
    a = quiet_fit(bm.Model("y ~ x + W + x:W + (1 + x | g)", df))
    b = quiet_fit(
        bm.Model(
            "y ~ x + (1 + x | g)",
            df.drop(columns="W"),
            level2={"g": {"Intercept": "~ W", "x": "~ W"}},
            group_data={"g": gd},
        ),
        seed=2,
    )
    la, lb = a.level2(), b.level2()
    truth = {
        ("Intercept", "Intercept"): 1.0,
        ("Intercept", "W"): 0.8,
        ("x", "Intercept"): 0.5,
        ("x", "W"): -0.4,
    }
    for (coef, pred), value in truth.items():
        ra, rb = la.loc[("g", coef, pred)], lb.loc[("g", coef, pred)]
        assert ra["q2.5"] <= value <= ra["q97.5"], (coef, pred, value, ra["q2.5"], ra["q97.5"])
        assert abs(ra["mean"] - rb["mean"]) < 0.2 * ra["sd"], (coef, pred)
    assert list(la["gamma"]) == ["g00", "g01", "g10", "g11"]
    vc = a.varcorr()
    assert vc.loc[("g", "Intercept", ""), "q2.5"] <= 0.5 <= vc.loc[("g", "Intercept", ""), "q97.5"]
    assert vc.loc[("g", "x", ""), "q2.5"] <= 0.3 <= vc.loc[("g", "x", ""), "q97.5"]
    # group coefficients are level-two prediction + deviation
    co = a.coef("g").xs("x", level="coef")["mean"]
    W = gd.set_index("g")["W"].loc[list(co.index)].to_numpy()
    r = a.ranef("g").xs("x", level="coef")["mean"].to_numpy()
    gam = la["mean"]
    np.testing.assert_allclose(
        co.to_numpy(), gam[("g", "x", "Intercept")] + gam[("g", "x", "W")] * W + r, atol=0.02
    )


def test_level2_with_logit_and_poisson(slopes_data):
    df, gd = slopes_data
    rng = np.random.default_rng(5)
    df = df.assign(
        yb=(rng.random(len(df)) < 1 / (1 + np.exp(-df.y + 1))).astype(int), yc=rng.poisson(np.exp(0.2 * df.y))
    )
    for fam, resp in (("bernoulli", "yb"), ("poisson", "yc")):
        m = bm.Model(f"{resp} ~ x + (1 | g)", df, family=fam, level2={"g": {"Intercept": "~ W"}})
        fit = quiet_fit(m, draws=150, tune=150, chains=2)
        assert ("g", "Intercept", "W") in fit.level2().index


# ---- bad input -------------------------------------------------------------------------------------


def test_level2_errors(radon, slopes_data):
    f = "log_radon ~ floor + (1 | county)"
    with pytest.raises(bm.FormulaError, match="level2 names factor 'countyy'"):
        bm.Model(f, radon, level2={"countyy": {"Intercept": "~ log_uranium"}})
    with pytest.raises(bm.FormulaError, match="coefficient 'floor', which does not vary by 'county'"):
        bm.Model(f, radon, level2={"county": {"floor": "~ log_uranium"}})
    with pytest.raises(
        bm.DataError, match=r"level-two covariate 'floor' varies within \d+ group\(s\) of 'county'"
    ):
        bm.Model(f, radon.assign(x=radon.floor), level2={"county": {"Intercept": "~ floor"}})
    df, gd = slopes_data
    with pytest.raises(bm.DataError, match=r"lack 1 group\(s\) present in the data: \['G07'\]"):
        bm.Model(
            "y ~ x + (1 | g)", df, level2={"g": {"Intercept": "~ W"}}, group_data={"g": gd[gd.g != "G07"]}
        )
    extra = pd.concat([gd, pd.DataFrame({"g": ["G99"], "W": [0.0]})])
    with pytest.raises(bm.DataError, match=r"1 group\(s\) not in the data: \['G99'\]"):
        bm.Model("y ~ x + (1 | g)", df, level2={"g": {"Intercept": "~ W"}}, group_data={"g": extra})
    holes = gd.copy()
    holes.loc[3, "W"] = np.nan
    with pytest.raises(bm.DataError, match=r"missing values for group\(s\) \['G03'\]"):
        bm.Model("y ~ x + (1 | g)", df, level2={"g": {"Intercept": "~ W"}}, group_data={"g": holes})
    with pytest.raises(bm.FormulaError, match="given twice"):
        bm.Model("y ~ x + W + (1 | g)", df, level2={"g": {"Intercept": "~ W"}})


def test_errors_after_level_two_formulas_point_into_the_model_formula():
    """make_design's level-two loop once overwrote the formula text: later errors quoted '~ w'."""
    radon = bm.datasets.load("radon")
    formula = "log_radon ~ 1 + (1 + floor | county)"
    with pytest.raises(FormulaError) as err:
        bm.Model(formula, radon, level2={"county": {"floor": "~ log_uranium"}})
    assert err.value.formula == formula
    assert "need the population term(s) ['floor']" in str(err.value)
