import numpy as np
import pytest
from scipy import stats

import bayesmix as bm
from bayesmix.core.linalg import cholesky_from_cpc, correlations, cpc_beta_params
from bayesmix.spec.design import FactorDesign
from bayesmix.spec.priors import Prior, parse_prior


@pytest.fixture(scope="module")
def sleep_model():
    return bm.Model("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"))


def test_defaults_are_scaled_to_the_data(sleep_model):
    df = bm.datasets.load("sleepstudy")
    sy, sx = df.Reaction.std(), df.Days.std()
    p = sleep_model.priors
    assert p["Intercept"] == Prior("normal", (df.Reaction.mean(), 2.5 * sy))
    assert p["b_Days"].dist == "normal" and p["b_Days"].params[1] == pytest.approx(2.5 * sy / sx)
    assert p["sd_Subject__Days"] == Prior("half_student_t", (3, sy))
    assert p["sigma"] == Prior("half_student_t", (3, sy))
    assert p["cor_Subject"] == Prior("lkj", (1,))
    assert set(p.to_frame()["source"]) == {"default"}
    assert not p.improper


def test_overrides_most_specific_wins():
    m = bm.Model(
        "Reaction ~ Days + (Days | Subject)",
        bm.datasets.load("sleepstudy"),
        priors={
            "sd": "student_t(3, 0, 10)",
            "sd_Subject__Days": "exponential(0.5)",
            "b": "normal(0, 5)",
            "cor_Subject": "lkj(2)",
            "sigma": "half_normal(20)",
        },
    )
    p = m.priors
    assert p["sd_Subject__Intercept"] == Prior("half_student_t", (3, 10))  # brms-style half
    assert p["sd_Subject__Days"] == Prior("exponential", (0.5,))
    assert p["b_Days"] == Prior("normal", (0, 5))
    assert p["cor_Subject"] == Prior("lkj", (2,))
    assert p.entry("sd_Subject__Days").source == "sd_Subject__Days"
    assert "exponential(0.5)" in repr(p)


def test_parse_prior_brms_syntax():
    assert parse_prior("student_t(3, 0, 2.5)") == Prior("student_t", (3, 0, 2.5))
    assert parse_prior("lkj_corr_cholesky(1)") == Prior("lkj", (1,))
    assert parse_prior("") == Prior("flat")


def test_mixed_prior_families_in_one_vector_build_and_expand(sleep_model):
    m = bm.Model(
        "Reaction ~ Days + (Days | Subject)",
        bm.datasets.load("sleepstudy"),
        priors={"sd_Subject__Days": "exponential(0.2)"},
    )
    names = {v.name for v in m.pymc_model.free_RVs}
    assert {"_sd_Subject__exponential", "_sd_Subject__half_student_t"} <= names


@pytest.mark.parametrize("k, eta", [(2, 1.0), (3, 1.0), (4, 2.0)])
def test_cpc_construction_gives_lkj_marginals(k, eta):
    """Under LKJ(eta) in dimension k every correlation is 2*Beta(a, a) - 1 with a = eta - 1 + k/2.

    Draw CPCs from the Beta distributions the builder uses, build L with the
    builder's own code, and compare every pairwise correlation's distribution
    with that marginal (KS test; 20,000 draws detect a 0.015 CDF gap).
    """
    f = FactorDesign(
        name="g",
        columns=("g",),
        levels=("a", "b"),
        index=np.zeros(1, int),
        Z=np.ones((1, k)),
        coefs=tuple(f"c{i}" for i in range(k)),
        blocks=(tuple(range(k)),),
    )
    beta = cpc_beta_params(f.correlated_blocks, eta)
    rng = np.random.default_rng(11)
    u = rng.beta(beta, beta, size=(20_000, len(beta)))
    L = cholesky_from_cpc(2 * u - 1, f, np)
    # L is a valid Cholesky factor of a correlation matrix
    R = L @ np.swapaxes(L, -1, -2)
    np.testing.assert_allclose(np.diagonal(R, axis1=-2, axis2=-1), 1.0, atol=1e-12)
    cors = correlations(L, f.cor_pairs(), np)
    a = eta - 1 + k / 2
    for j in range(cors.shape[1]):
        res = stats.kstest((cors[:, j] + 1) / 2, stats.beta(a, a).cdf)
        assert res.pvalue > 1e-3, (j, res)
