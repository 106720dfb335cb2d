"""Pointwise log-likelihood (checked against scipy), PSIS-LOO and model comparison."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bayesmix as bm


@pytest.fixture(scope="module")
def dyestuff_fits():
    data = bm.datasets.load("dyestuff")
    kw = dict(draws=500, tune=500, chains=2, seed=1, progressbar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bm.ConvergenceWarning)
        batch = bm.Model("Yield ~ 1 + (1 | Batch)", data).fit(**kw)
        none = bm.Model("Yield ~ 1", data).fit(**kw)
    return batch, none


def test_log_likelihood_is_the_normal_density_given_the_group_effects(dyestuff_fits):
    fit, _ = dyestuff_fits
    ll = fit.log_likelihood()
    eta = fit.predict(kind="link").draws.values
    sigma = fit.posterior["sigma"].values[..., None]
    y = bm.datasets.load("dyestuff")["Yield"].to_numpy()
    np.testing.assert_allclose(ll.values, stats.norm.logpdf(y, eta, sigma), rtol=1e-10)
    assert "log_likelihood" in fit.idata.children and ll.dims == ("chain", "draw", "obs")


def test_loo_and_compare_rank_the_batch_model_first(dyestuff_fits):
    batch, none = dyestuff_fits
    res = batch.loo()
    assert np.isfinite(res.elpd) and res.se > 0
    table = bm.compare({"batch": batch, "no batch": none})
    assert list(table.index) == ["batch", "no batch"]
    with pytest.raises(bm.ArgumentError):
        bm.compare({"only": batch})
    sub = bm.compare({"batch": batch, "no batch": none}, subsample=20, seed=1)
    assert list(sub.index) == ["batch", "no batch"] and "subsampling_dse" in sub.columns
    assert "weight" not in sub.columns


def test_posterior_predictive_group(dyestuff_fits):
    fit, _ = dyestuff_fits
    fit.add_posterior_predictive(seed=1)
    pp = fit.idata["posterior_predictive"]["y"]
    assert pp.shape == (2, 500, 30)


@pytest.fixture(scope="module")
def simulated():
    """200 groups x 10 rows: y = x + u_g + e with var(x) = var(u) = var(e) = 1."""
    rng = np.random.default_rng(11)
    g = np.repeat(np.arange(200), 10)
    x = rng.normal(size=g.size)
    u = rng.normal(size=200)
    y = x + u[g] + rng.normal(size=g.size)
    df = pd.DataFrame({"y": y, "x": x, "g": g})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bm.ConvergenceWarning)
        fit = bm.Model("y ~ x + (1 | g)", df).fit(draws=500, tune=500, chains=2, seed=3, progressbar=False)
    return fit, x, u[g]


def test_r2_recovers_the_simulated_variance_shares(simulated):
    fit, x, ug = simulated
    v_fixed, v_group = np.var(x, ddof=1), np.var(ug, ddof=1)
    total = v_fixed + v_group + 1.0
    table = fit.r2()
    # posterior SDs of R^2 here are about 0.01; 0.04 allows for the realised sigma^2 of the sample
    assert abs(table.loc["conditional", "mean"] - (v_fixed + v_group) / total) < 0.04
    assert abs(table.loc["marginal", "mean"] - v_fixed / total) < 0.04


def test_icc_recovers_one_half(simulated):
    fit, _, _ = simulated
    table = fit.icc()
    # true ICC 1/2; with 200 groups the posterior SD of the ICC is about 0.03
    assert abs(table.loc["g", "mean"] - 0.5) < 0.1
    assert table.attrs["residual"] == "sigma^2"


def test_subsampled_loo_estimates_the_exact_elpd(simulated, dyestuff_fits):
    fit, _, _ = simulated
    exact = fit.loo()
    sub = fit.loo(subsample=400, seed=1)
    # the difference estimator is unbiased with SE `subsampling_se`; 4 of them is a loose bound
    assert sub.subsample_size == 400 and sub.n_data_points == 2000
    assert abs(sub.elpd - exact.elpd) < 4 * sub.subsampling_se + 1e-9
    assert sub.subsampling_se > 0
    # the same seed chooses the same rows; asking for every row is the exact LOO
    assert fit.loo(subsample=400, seed=1).elpd == sub.elpd
    assert fit.loo(subsample=5000).elpd == exact.elpd
    with pytest.raises(bm.ArgumentError, match="subsample"):
        fit.loo(subsample=3)
    batch, none = dyestuff_fits
    with pytest.raises(bm.ArgumentError, match="same rows"):
        bm.compare({"a": fit, "b": batch})
