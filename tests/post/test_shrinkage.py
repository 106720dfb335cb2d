"""Shrinkage report: no-pooling estimates are each group's own regression, complete pooling is
one regression ignoring the groups, shrinkage factors lie in [0, 1] and grow as groups shrink."""

import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from _util import quiet_fit
from scipy import special, stats

import bayesmix as bm
from bayesmix.post.shrinkage import shrinkage

KW = dict(draws=500, tune=500, chains=2, seed=4)


def _fit(model):
    return quiet_fit(model, **KW)


@pytest.fixture(scope="module")
def radon():
    data = bm.datasets.load("radon")
    return _fit(
        bm.Model("log_radon ~ floor + (1 | county)", data, level2={"county": {"Intercept": "~ log_uranium"}})
    )


def test_no_pooling_is_each_subject_s_own_least_squares_line(sleep_fit):
    table = sleep_fit.shrinkage("Subject").table.xs("Subject", level="factor")
    data = bm.datasets.load("sleepstudy")
    for subject, rows in data.groupby("Subject"):
        slope, intercept = np.polyfit(rows["Days"], rows["Reaction"], 1)
        assert table.loc[(str(subject), "Intercept"), "no_pooling"] == pytest.approx(intercept, rel=1e-9)
        assert table.loc[(str(subject), "Days"), "no_pooling"] == pytest.approx(slope, rel=1e-9)
        assert table.loc[(str(subject), "Days"), "n"] == len(rows)
    # complete pooling: one line through all rows
    slope, intercept = np.polyfit(data["Days"], data["Reaction"], 1)
    np.testing.assert_allclose(table.xs("Days", level="coef")["complete_pooling"], slope, rtol=1e-9)
    np.testing.assert_allclose(table.xs("Intercept", level="coef")["complete_pooling"], intercept, rtol=1e-9)
    # partial pooling is coef()
    coef = sleep_fit.coef("Subject")
    np.testing.assert_allclose(table["partial_pooling"], coef.loc[table.index, "mean"], rtol=1e-12)


def test_shrinkage_factors_lie_between_0_and_1(sleep_fit, radon):
    # Given the hyperparameters the posterior mean is a contraction towards the population value
    # in the covariance's metric, so the factor is in [0, 1]; averaging over the posterior adds
    # Monte Carlo error of about (posterior SD / distance) / sqrt(ESS).  That is small unless a
    # group's own estimate is within half a posterior SD of the population value, where the
    # factor is a ratio of two small differences: those rows are flagged in the note, and only
    # they may leave [0, 1].
    for fit in (sleep_fit, radon):
        t = fit.shrinkage().table
        assert t["shrinkage"].notna().all()
        near = t["note"].str.contains("within 0.5 SD")
        assert near.mean() < 0.25  # radon: 13 of 85 counties (15%) sit that close to their prediction
        assert t.loc[~near, "shrinkage"].between(0, 1).all(), t.loc[~near, "shrinkage"].describe()


def test_smaller_counties_shrink_more(radon):
    report = radon.shrinkage("county")
    t = report.table
    rho = stats.spearmanr(t["n"], t["shrinkage"]).statistic
    # shrinkage of a county's intercept is sigma^2 / (sigma^2 + n tau^2): monotone in n, so the
    # rank correlation is close to -1 (observed -0.97); noise in the estimates cannot bring it near 0
    assert rho < -0.8
    # the level-two prediction is the target: population differs by county (uranium)
    assert t["population"].nunique() > 50
    smallest = t["n"].idxmin()[1]
    # the paragraph explains the most shrunk groups by their size (which of the many 1-4 row
    # counties come first varies with the draws)
    assert "county" in report.text and re.search(r"\d+ rows? \(median 5\)", report.text)
    assert t.loc[("county", smallest, "Intercept"), "shrinkage"] > t["shrinkage"].median()


def _draws_for(model, b: dict, sd: float, seed: int = 0) -> xr.Dataset:
    """A stand-in posterior (2 chains x 200 draws) for a one-factor intercept model: the shrinkage
    report is arithmetic on draws, so no sampler is needed to test its bookkeeping."""
    rng = np.random.default_rng(seed)
    f = model.design.factors[0]
    terms = list(model.design.terms)
    bdraws = np.array([b[t] for t in terms]) + 0.05 * rng.normal(size=(2, 200, len(terms)))
    r = sd * rng.normal(size=(2, 200, f.n_levels, 1))
    return xr.Dataset(
        {
            "b": (("chain", "draw", "term"), bdraws),
            f"r_{f.name}": (("chain", "draw", f.dim, f"{f.name}__coef"), r),
            f"sd_{f.name}": (("chain", "draw", f"{f.name}__coef"), np.full((2, 200, 1), sd)),
        },
        coords={"term": terms, f.dim: list(f.levels), f"{f.name}__coef": ["Intercept"]},
    )


def test_groups_without_an_own_estimate_are_marked_not_dropped():
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(30), 8)
    x = rng.normal(size=g.size)
    p = special.expit(-0.5 + 0.8 * x + rng.normal(0, 0.8, 30)[g])
    y = (rng.uniform(size=g.size) < p).astype(int)
    y[g == 0] = 0  # a group with no event: no finite maximum-likelihood intercept
    df = pd.DataFrame({"y": y, "x": x, "g": g})
    model = bm.Model("y ~ x + (1 | g)", df, family="bernoulli")
    post = _draws_for(model, {"Intercept": -0.5, "x": 0.8}, sd=0.8)
    t = shrinkage(post, model.design, model.family, model.response_data).table
    assert len(t) == 30
    row = t.loc[("g", "0", "Intercept")]
    assert np.isnan(row["no_pooling"]) and "separation" in row["note"]
    assert np.isfinite(row["partial_pooling"])
    # a group's maximum-likelihood intercept given the offset x b: the score is zero there
    b = post["b"].mean(("chain", "draw")).to_series()
    for level in ("1", "2", "3"):
        rows = df["g"].astype(str) == level
        a = t.loc[("g", level, "Intercept"), "no_pooling"]
        score = (df.loc[rows, "y"] - special.expit(df.loc[rows, "x"] * b["x"] + a)).sum()
        assert abs(score) < 1e-4
    # all-zero Poisson counts have no finite maximum-likelihood rate either
    counts = rng.poisson(2.0, g.size)
    counts[g == 5] = 0
    pois = bm.Model("y ~ x + (1 | g)", df.assign(y=counts), family="poisson")
    t = shrinkage(
        _draws_for(pois, {"Intercept": 0.7, "x": 0.0}, sd=0.5), pois.design, pois.family, pois.response_data
    ).table
    assert "counts all zero" in t.loc[("g", "5", "Intercept"), "note"]


def test_one_row_groups_are_marked(sleep_fit):
    data = bm.datasets.load("sleepstudy")
    data = data[~((data["Subject"].astype(str) == "308") & (data["Days"] > 0))]
    fit = _fit(bm.Model("Reaction ~ Days + (Days | Subject)", data))
    row = fit.shrinkage().table.loc[("Subject", "308", "Days")]
    assert row["n"] == 1 and np.isnan(row["no_pooling"]) and "fewer rows" in row["note"]
    assert "no no-pooling estimate" in fit.shrinkage().text


def test_bad_arguments(sleep_fit):
    with pytest.raises(bm.ArgumentError, match="Subject"):
        sleep_fit.shrinkage("Subjekt")
    with pytest.raises(bm.ArgumentError, match="prob"):
        sleep_fit.shrinkage(prob=2)
