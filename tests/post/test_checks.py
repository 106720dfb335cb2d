"""Pointwise log-likelihood (checked against scipy), PSIS-LOO and model comparison."""

import warnings

import numpy as np
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


def test_posterior_predictive_group(dyestuff_fits):
    fit, _ = dyestuff_fits
    fit.add_posterior_predictive(seed=1)
    pp = fit.idata["posterior_predictive"]["y"]
    assert pp.shape == (2, 500, 30)
