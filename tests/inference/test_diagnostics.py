"""The vectorised convergence diagnostics equal arviz_stats's, parameter by parameter; stuck chains are caught."""

import copy
import warnings

import arviz_stats as azs
import numpy as np
import pytest
import xarray as xr

import bayesmix as bm
from bayesmix.inference.diagnostics import ess_bulk, ess_tail, quantiles, rhat_and_ess_bulk, rhat_rank
from bayesmix.inference.sampling import convergence_report, stuck_chains, warn_convergence


def _draws(seed: int, chains: int = 4, draws: int = 1000) -> np.ndarray:
    """AR(1) chains with autocorrelations from -0.3 to 0.97, chains that disagree, heavy tails, ties."""
    rng = np.random.default_rng(seed)
    phis = [-0.3, 0.0, 0.5, 0.9, 0.97]
    out = []
    for phi in phis:
        e = rng.normal(size=(chains, draws))
        x = np.empty_like(e)
        x[:, 0] = e[:, 0]
        for t in range(1, draws):
            x[:, t] = phi * x[:, t - 1] + e[:, t]
        out.append(x)
    out.append(rng.normal(size=(chains, draws)) + np.arange(chains)[:, None] * 0.3)  # chains disagree
    out.append(rng.standard_t(2, size=(chains, draws)))
    out.append(rng.integers(0, 4, size=(chains, draws)).astype(float))  # many ties
    return np.stack(out, axis=-1)


@pytest.mark.parametrize(("seed", "draws"), [(1, 1000), (2, 101), (3, 8)])
def test_equal_to_arviz_stats(seed, draws):
    x = _draws(seed, draws=draws)
    ref_rhat = np.asarray(azs.rhat(x, chain_axis=0, draw_axis=1))
    ref_ess = np.asarray(azs.ess(x, method="bulk", chain_axis=0, draw_axis=1))
    np.testing.assert_allclose(rhat_rank(x), ref_rhat, rtol=1e-10)
    np.testing.assert_allclose(ess_bulk(x), ref_ess, rtol=1e-10)
    both = rhat_and_ess_bulk(x)
    np.testing.assert_allclose(both[0], ref_rhat, rtol=1e-10)
    np.testing.assert_allclose(both[1], ref_ess, rtol=1e-10)
    ref_tail = np.asarray(azs.ess(x, method="tail", prob=0.1, chain_axis=0, draw_axis=1))
    np.testing.assert_allclose(ess_tail(x, 0.1), ref_tail, rtol=1e-10)


def test_constant_and_non_finite_parameters():
    x = _draws(4)[..., :2].copy()
    x[..., 0] = 1.5
    x[0, 3, 1] = np.nan
    assert ess_bulk(x)[0] == x.shape[0] * x.shape[1]
    assert np.isnan(ess_bulk(x)[1]) and np.isnan(rhat_rank(x)[1])
    assert np.all(np.isnan(rhat_rank(x[:1])))  # one chain: R-hat undefined


@pytest.mark.parametrize("draws", [7, 1000])
def test_quantiles_equal_numpy(draws):
    # 600 parameters: across the 512-parameter blocks; rounded draws give ties
    rng = np.random.default_rng(draws)
    x = np.round(rng.standard_t(3, size=(3, draws, 600)), 1)
    probs = [0.0, 0.025, 0.05, 0.5, 0.95, 0.975, 1.0]
    ours = quantiles(x, probs)
    theirs = np.quantile(x.reshape(-1, 600), probs, axis=0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_a_stuck_chain_is_detected_and_the_fit_says_it_is_not_a_posterior(sleep_fit):
    rng = np.random.default_rng(0)
    healthy = rng.normal(size=(4, 500, 3))
    assert stuck_chains(healthy, np.zeros(4)) == []
    frozen = healthy.copy()
    frozen[2, 1:] = frozen[2, 0]  # chain 2 never leaves its first point
    assert stuck_chains(frozen, np.zeros(4)) == [2]
    assert stuck_chains(healthy, np.array([0.0, 0.9, 0.0, 0.01])) == [1]  # chain 1: 90% divergent
    # a real fit with one chain's sampled parameters frozen (its group effects, drawn afresh per draw,
    # still move): the check fails, the warning says STUCK and the report says it is not a posterior
    post = sleep_fit.idata["posterior"].to_dataset().copy(deep=True)
    for v in ("b", "sd_Subject", "cor_Subject", "sigma"):
        post[v].values[1] = post[v].values[1, :1]
    tree = xr.DataTree.from_dict(
        {"posterior": post, "sample_stats": sleep_fit.idata["sample_stats"].to_dataset()}
    )
    report = convergence_report(tree)
    assert report["stuck_chains"] == [1] and not report["ok"]
    fit = bm.Fit(sleep_fit.model, tree, copy.copy(sleep_fit.settings))
    assert fit.report().startswith("NOT A POSTERIOR: chain(s) [1] are stuck")
    with pytest.warns(bm.ConvergenceWarning, match="STUCK"):
        warn_convergence(report)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert convergence_report(sleep_fit.idata)["stuck_chains"] == []
