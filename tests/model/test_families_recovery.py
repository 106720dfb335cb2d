"""Recovery of known parameters by each of the newer families, and overdispersion.

Each family is simulated on one design with a correlated intercept-slope factor (40 groups
of 8 rows) crossed with an item factor (12 levels), from known values (a fixed seed per
family), and fitted at 4 x 500 draws.  Two checks per family on its ~8 true values
(population effects, group SDs, the correlation, the family's own parameters):

* every true value within 3.3 posterior SDs of the posterior mean (outside the 99.9%
  normal interval: a false alarm once in ~20 families by chance; a broken likelihood,
  link or parameterisation misses by many SDs);
* at most 2 true values outside their central 95% intervals (by chance 3 or more of 8
  happen with probability 0.006).

Chains must agree (max R-hat < 1.05; the 1.01 production check needs more draws than a
test can afford here).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _util import quiet_fit

import bayesmix as bm

FORMULA = "y ~ x + (x | g) + (1 | item)"
BASE = {
    "b": {"Intercept": 0.5, "x": 0.4},
    "sd": {"g": {"Intercept": 0.5, "x": 0.3}, "item": 0.4},
    "cor": {"g": 0.3},
}
FAMILIES = {
    "student": {"sigma": 1.0, "nu": 4.0},
    "negbinomial": {"shape": 3.0},
    "gamma": {"shape": 4.0},
    "lognormal": {"sigma": 0.6},
    "beta": {"phi": 15.0},
    "cumulative": {"Intercept": [-1.0, 0.0, 1.2]},
}


def design(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    J, n, items = 40, 8, 12
    return pd.DataFrame(
        {
            "g": np.repeat(np.arange(J), n).astype(str),
            "item": rng.integers(0, items, J * n).astype(str),
            "x": rng.normal(size=J * n),
        }
    )


def truth(family: str) -> dict:
    params = BASE | FAMILIES[family]
    if family == "cumulative":  # the cutpoints take the intercept's place
        params = params | {"b": {"x": 0.4}}
    return params


@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_recovers_known_parameters(family):
    seed = 100 + list(FAMILIES).index(family)  # independent data sets for the families
    sim = bm.Model.from_design(FORMULA, design(), family=family).simulate(truth(family), seed=seed)
    fit = quiet_fit(bm.Model(FORMULA, sim, family=family), draws=500, tune=500)
    table = fit.summary()
    true = pd.Series(sim.attrs["params"])
    assert set(true.index) <= set(table.index), (
        f"missing from the summary: {set(true.index) - set(table.index)}"
    )
    t = table.loc[true.index]
    z = (t["mean"] - true).abs() / t["sd"]
    outside = (true < t["q2.5"]) | (true > t["q97.5"])
    report = t[["mean", "sd", "q2.5", "q97.5"]].assign(true=true, z=z)
    assert (z < 3.3).all(), f"{family}: true values far from the posterior:\n{report[z >= 3.3]}"
    assert outside.sum() <= 2, f"{family}: {outside.sum()} true values outside the 95% intervals:\n{report}"
    assert fit.convergence["max_rhat"] < 1.05
    # the numpy side agrees with the fit: posterior predictive draws are valid responses
    y = fit.predict(kind="prediction", seed=1).draws.values
    assert np.isfinite(y).all()
    if family == "beta":
        assert ((y > 0) & (y < 1)).all()
    if family == "cumulative":
        assert set(np.unique(y)) <= {1.0, 2.0, 3.0, 4.0}
        assert "Cutpoints on the logit scale" in str(fit) and "cut3" in str(fit)


def test_negative_binomial_recovers_overdispersion_that_poisson_misses():
    """Counts with variance mu + mu^2/2: the negative binomial finds shape 2 and wider intervals.

    ``y ~ x + (1 | g)`` with a row-level predictor and an exposure offset: a Poisson model
    treats the extra row-level variation as information, so its interval for the slope is
    too narrow; the negative binomial's intervals cover the true rate per unit of exposure.
    """
    df = design(seed=5)
    df["days"] = np.random.default_rng(5).integers(5, 30, len(df))
    formula = "y ~ x + offset(np.log(days)) + (1 | g)"
    params = {"b": {"Intercept": -1.5, "x": 0.3}, "sd": {"g": 0.4}}
    sim = bm.Model.from_design(formula, df, family="negbinomial").simulate(params | {"shape": 2.0}, seed=11)
    nb = quiet_fit(bm.Model(formula, sim, family="negbinomial"), draws=500, tune=500)
    po = quiet_fit(bm.Model(formula, sim, family="poisson"), draws=500, tune=500)
    s_nb, s_po = nb.summary(), po.summary()
    assert s_nb.loc["shape", "q2.5"] < 2.0 < s_nb.loc["shape", "q97.5"]
    width = [(s["q97.5"] - s["q2.5"]).loc["b_x"] for s in (s_nb, s_po)]
    # the variance ratio at a mean count of ~4 is 1 + 4/2: intervals ~1.7x wider; 1.2x leaves room for noise
    assert width[0] > 1.2 * width[1], f"NB interval for b_x {width[0]:.3f} vs Poisson's {width[1]:.3f}"
    for label, value in (("b_x", 0.3), ("b_Intercept", -1.5)):
        assert s_nb.loc[label, "q2.5"] < value < s_nb.loc[label, "q97.5"], label
    # the data prefer the negative binomial by far
    assert bm.compare({"negbinomial": nb, "poisson": po}).index[0] == "negbinomial"


def test_frequency_weights_equal_repeated_rows():
    """A row of weight w is w identical rows: the same posterior within Monte Carlo error.

    Tolerance: posterior means within 0.2 posterior SD and SDs within 15% (with bulk ESS
    of several hundred, the two fits' Monte Carlo error is below 0.1 SD); ignoring the
    weights would shrink every posterior SD by about 1/sqrt(2) and fail.
    """
    rng = np.random.default_rng(8)
    df = design(seed=8).iloc[:160]
    df = df.assign(
        y=0.5 + 0.4 * df.x + rng.normal(0, 0.5, 20)[df.g.astype(int) % 20] + rng.normal(size=len(df))
    )
    df["w"] = rng.integers(1, 4, len(df)).astype(float)
    repeated = df.loc[df.index.repeat(df.w.astype(int))].reset_index(drop=True)
    formula = "y ~ x + (1 | g)"
    weighted = quiet_fit(bm.Model(formula, df, weights="w"), draws=1000, tune=1000).summary()
    expanded = quiet_fit(bm.Model(formula, repeated), draws=1000, tune=1000).summary()
    for label in ("b_Intercept", "b_x", "sd_g__Intercept", "sigma"):
        a, b = weighted.loc[label], expanded.loc[label]
        assert abs(a["mean"] - b["mean"]) < 0.2 * b["sd"], label
        assert abs(a["sd"] / b["sd"] - 1) < 0.15, label


def test_simulation_studies_run_on_an_ordinal_model():
    """A recovery study reports the cutpoints like every other parameter (no failed fits)."""
    model = bm.Model.from_design(FORMULA, design(), family="cumulative")
    res = bm.studies.recovery(
        model, truth("cumulative"), n=2, seed=7, draws=100, tune=100, workers=1, progress=False
    )
    assert res.fits["error"].isna().all(), res.fits["error"].tolist()
    assert {"Intercept[1]", "Intercept[2]", "Intercept[3]", "b_x"} <= set(res.summary.index)
    np.testing.assert_allclose(res.summary.loc[["Intercept[1]", "Intercept[3]"], "true"], [-1.0, 1.2])


def test_negative_binomial_intervals_cover_over_simulated_data_sets():
    """Coverage over 20 data sets (one compile, then each fit reuses it).

    ``count ~ x + (1 | g)``, 20 groups of 10 rows, shape 2.  Each parameter's 95% interval
    must hold the truth in at least 15 of 20 data sets: P(<= 14 of 20 | 0.95) = 0.0026 per
    parameter; a wrong likelihood or dispersion gives coverage far below.
    """
    rng = np.random.default_rng(21)
    df = pd.DataFrame({"g": np.repeat(np.arange(20), 10).astype(str), "x": rng.normal(size=200)})
    model = bm.Model.from_design("count ~ x + (1 | g)", df, family="negbinomial")
    params = {"b": {"Intercept": 1.0, "x": 0.4}, "sd": {"g": 0.5}, "shape": 2.0}
    res = bm.studies.recovery(model, params, n=20, seed=3, draws=300, tune=300, workers=1, progress=False)
    assert res.fits["error"].isna().all()
    cov = res.summary["coverage95"]
    assert set(cov.index) == {"b_Intercept", "b_x", "sd_g__Intercept", "shape"}
    assert (cov >= 0.75).all(), f"coverage of the 95% intervals over 20 data sets:\n{res.summary}"
