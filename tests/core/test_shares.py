"""The nested factors' SDs as a total variance and its shares (bayesmix.core.shares)."""

from __future__ import annotations

import numpy as np
import pytest

import bayesmix as bm
from bayesmix.core import names
from bayesmix.core.shares import log_jacobian, sds_from_shares, shares_from_sds


@pytest.mark.parametrize("k", [2, 3, 4])
def test_the_shares_map_inverts_and_its_log_jacobian_is_the_determinant(k):
    rng = np.random.default_rng(k)
    for _ in range(5):
        x = rng.normal(scale=2.0, size=k)
        sd = sds_from_shares(x, np)
        np.testing.assert_allclose(shares_from_sds(sd, np), x, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(np.sum(sd**2), np.exp(x[0]), rtol=1e-12)
        # central differences (error ~h^2 * |d3 sd| ~1e-10 at h = 1e-5; a Jacobian missing a
        # term or a factor 1/2 is off by at least log(2) ~ 0.7)
        h, jac = 1e-5, np.empty((k, k))
        for j in range(k):
            e = np.eye(k)[j] * h
            jac[:, j] = (sds_from_shares(x + e, np) - sds_from_shares(x - e, np)) / (2 * h)
        np.testing.assert_allclose(log_jacobian(x, np), np.log(abs(np.linalg.det(jac))), atol=1e-7)


def test_sampled_as_shares_the_nested_sds_have_the_integrated_out_model_s_posterior():
    # pastes' casks within batches: sampled (collapse=False) the two SDs are the shares
    # variable; integrated out (the default) they are two log SDs.  The posteriors must agree:
    # a wrong Jacobian would change the SDs' prior by a factor like sd_batch * sd_cask and move
    # them by far more than the tolerances: 0.25 posterior SDs on the mean (bulk ESS >= 400 each: Monte Carlo error of the difference <= 0.07 SDs), 0.5 on the 2.5% and
    # 97.5% quantiles (their error is ~2x the mean's)
    m = bm.Model("strength ~ 1 + (1 | batch/cask)", bm.datasets.load("pastes"))
    assert names.SD_SHARES in m.built.free_names
    # sampled, the SDs mix slower (bulk ESS 300-700 per 4,000 draws): 4 x 3000 draws
    sampled = m.fit(seed=5, draws=3000, collapse=False, progressbar=False, check=False).summary()
    collapsed = m.fit(seed=6, progressbar=False, check=False).summary()
    for p in ("sd_batch__Intercept", "sd_batch:cask__Intercept"):
        assert sampled.loc[p, "ess_bulk"] >= 400 and collapsed.loc[p, "ess_bulk"] >= 400
        sd = collapsed.loc[p, "sd"]
        for col, tol in (("mean", 0.25), ("q2.5", 0.5), ("q97.5", 0.5)):
            assert abs(sampled.loc[p, col] - collapsed.loc[p, col]) < tol * sd, (p, col)
