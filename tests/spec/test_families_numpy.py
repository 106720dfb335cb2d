"""Each family's numpy side against PyMC's own distributions.

Log densities must agree to 1e-10 (the same formula, evaluated in float64); random
draws are checked by their first two moments within 5 Monte Carlo standard errors
(a false alarm about once in 1.7 million checks per moment; seeds fixed).
"""

import numpy as np
import pymc as pm
import pytest
from scipy import special

from bayesmix.spec.families import get_family

RNG = np.random.default_rng(20261123)
N = 60
ETA = RNG.normal(0.0, 1.5, size=(2, 3, N))  # (chain, draw, obs) as predictions use them
CUTS = np.array([-1.2, 0.1, 0.9, 2.0])


def _aux(family, shape=(2, 3, 1)):
    """Values of the family's extra parameters, per draw as a posterior gives them."""
    out = {}
    for a in family.aux({"scores": np.arange(len(CUTS) + 1)}):
        if a.ordered:
            out[a.name] = CUTS + 0.1 * RNG.normal(size=(*shape, len(CUTS)))
        else:
            base = {"sigma": 1.5, "nu": 4.0, "shape": 2.5, "phi": 12.0}[a.name]
            out[a.name] = base * np.exp(0.2 * RNG.normal(size=shape))
    return out


def _pymc_logp(family, y, eta, data, aux):
    name, link = family.name, family.link
    if name == "gaussian":
        dist = pm.Normal.dist(mu=eta, sigma=aux["sigma"])
    elif name == "student":
        dist = pm.StudentT.dist(nu=aux["nu"], mu=eta, sigma=aux["sigma"])
    elif name == "lognormal":
        dist = pm.LogNormal.dist(mu=eta, sigma=aux["sigma"])
    elif name == "gamma":
        dist = pm.Gamma.dist(alpha=aux["shape"], beta=aux["shape"] / np.exp(eta))
    elif name == "beta":
        mu = special.expit(eta)
        dist = pm.Beta.dist(alpha=mu * aux["phi"], beta=(1 - mu) * aux["phi"])
    elif name == "negbinomial":
        dist = pm.NegativeBinomial.dist(mu=np.exp(eta), alpha=aux["shape"])
    elif name == "cumulative" and link == "probit":
        # PyMC's OrderedProbit divides by pt.sqrt(2.0), a float32 constant (off by ~1e-7 in the
        # log density); the probit link is checked against scipy's exact ndtr instead, the
        # difference of CDFs taken on the side of the median where it does not cancel
        c = np.broadcast_to(aux["Intercept"], (*eta.shape, aux["Intercept"].shape[-1]))
        edges = np.concatenate([np.full((*eta.shape, 1), -np.inf), c, np.full((*eta.shape, 1), np.inf)], -1)
        k = np.broadcast_to(y, eta.shape)[..., None]
        a = np.take_along_axis(edges, k + 1, -1)[..., 0] - eta
        b = np.take_along_axis(edges, k, -1)[..., 0] - eta
        return np.log(
            np.where(a + b < 0, special.ndtr(a) - special.ndtr(b), special.ndtr(-b) - special.ndtr(-a))
        )
    elif name == "cumulative":
        # PyMC's ordered distributions take one cutpoint vector per row: broadcast them
        c = np.broadcast_to(aux["Intercept"], (*eta.shape, aux["Intercept"].shape[-1]))
        dist = pm.OrderedLogistic.dist(eta=eta, cutpoints=c)
    elif name == "bernoulli" and link == "probit":
        # pm.math.invprobit computes erfc(-x / sqrt(2)) with sqrt(2) as a float32 constant (off by
        # ~2e-9 in p); the probit link is checked here as PyMC's Bernoulli at scipy's exact ndtr
        dist = pm.Bernoulli.dist(p=special.ndtr(eta))
    elif name == "bernoulli":
        dist = pm.Bernoulli.dist(logit_p=eta)
    elif name == "binomial":
        dist = pm.Binomial.dist(n=data["n"], logit_p=eta)
    else:
        dist = pm.Poisson.dist(mu=np.exp(eta))
    return pm.logp(dist, y).eval()


def _ordinal():
    return {"y": RNG.integers(0, len(CUTS) + 1, N), "scores": np.arange(1.0, len(CUTS) + 2)}


CASES = [
    ("gaussian", None, lambda: {"y": RNG.normal(0, 2, N)}),
    ("student", None, lambda: {"y": RNG.standard_t(3, N) * 2}),
    ("lognormal", None, lambda: {"y": np.exp(RNG.normal(0, 1, N))}),
    ("gamma", None, lambda: {"y": RNG.gamma(2.0, 1.5, N)}),
    ("beta", None, lambda: {"y": RNG.beta(2.0, 3.0, N)}),
    ("bernoulli", None, lambda: {"y": RNG.integers(0, 2, N)}),
    ("bernoulli", "probit", lambda: {"y": RNG.integers(0, 2, N)}),
    ("binomial", None, lambda: (lambda n: {"y": RNG.integers(0, n + 1), "n": n})(RNG.integers(1, 30, N))),
    ("poisson", None, lambda: {"y": RNG.poisson(3.0, N)}),
    ("negbinomial", None, lambda: {"y": RNG.negative_binomial(2, 0.3, N)}),
    ("cumulative", None, _ordinal),
    ("cumulative", "probit", _ordinal),
]


@pytest.mark.parametrize("name, link, make", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_logpdf_equals_pymc(name, link, make):
    family = get_family(name, link)
    data = make()
    aux = _aux(family)
    ours = family.logpdf(data["y"], ETA, data, aux)
    theirs = _pymc_logp(family, data["y"], ETA, data, aux)
    assert ours.shape == ETA.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)


def test_ordinal_logpdf_stays_finite_far_in_the_tails():
    """Where PyMC's probabilities underflow (a category 40 logits away), the log density is exact."""
    fam = get_family("cumulative")
    c = {"Intercept": np.array([-1.0, 0.0, 1.0])}
    out = fam.logpdf(np.array([0, 3]), np.array([40.0, -40.0]), {}, c)
    # log F(-1 - 40) and log(1 - F(1 + 40)): both log(expit(-41))
    np.testing.assert_allclose(out, [special.log_expit(-41.0)] * 2, rtol=1e-12)


@pytest.mark.parametrize("name, link, make", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_random_draws_have_the_family_moments(name, link, make):
    family = get_family(name, link)
    data = make()
    eta = ETA[0, 0]
    aux = {k: v[0, 0] for k, v in _aux(family).items()}  # one parameter draw for every row
    if name == "student":
        aux["nu"] = np.array([6.0])  # a finite fourth moment, for the variance's MC SE
    rng = np.random.default_rng(5)
    S = 20_000
    draws = family.random(np.broadcast_to(eta, (S, N)), data, rng, aux).astype(float)
    mean = family.mean(eta, data, aux)
    var = family.variance(eta, data, aux)
    se_mean = np.sqrt(var / S)
    assert np.all(np.abs(draws.mean(axis=0) - mean) < 5 * se_mean + 1e-12)
    # the variance's MC SE, from the fourth central moment estimated from the draws
    m4 = ((draws - draws.mean(axis=0)) ** 4).mean(axis=0)
    se_var = np.sqrt(np.maximum(m4 - var**2, 0) / S)
    # plus 10 / S for near-certain outcomes, whose sample fourth moment is 0 in 20,000 draws
    assert np.all(np.abs(draws.var(axis=0, ddof=1) - var) < 5 * se_var + 10.0 / S)


def test_variances_are_the_textbook_ones():
    eta = np.log(np.array([2.0, 5.0]))
    nb = get_family("negbinomial").variance(eta, {}, {"shape": 4.0})
    np.testing.assert_allclose(nb, [2 + 4 / 4, 5 + 25 / 4])
    ga = get_family("gamma").variance(eta, {}, {"shape": 4.0})
    np.testing.assert_allclose(ga, [4 / 4, 25 / 4])
    be = get_family("beta").variance(np.array([0.0]), {}, {"phi": 9.0})
    np.testing.assert_allclose(be, [0.25 / 10])
    st = get_family("student").variance(np.array([0.0]), {}, {"sigma": 2.0, "nu": 4.0})
    np.testing.assert_allclose(st, [4.0 * 4 / 2])


def test_ordinal_probabilities_sum_to_one_and_mean_is_on_the_scores():
    fam = get_family("cumulative")
    aux = {"Intercept": CUTS}
    p = fam.probabilities(ETA, aux)
    assert p.shape == (*ETA.shape, len(CUTS) + 1)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12)
    scores = np.array([1.0, 2, 3, 4, 5])
    np.testing.assert_allclose(fam.mean(ETA, {"scores": scores}, aux), p @ scores)


def test_frequency_weights_multiply_the_log_density_and_analytic_ones_scale_sigma():
    fam = get_family("gaussian")
    y, eta, w = np.array([0.5, -1.0]), np.array([0.0, 0.2]), np.array([2.0, 3.0])
    aux = {"sigma": 1.3}
    plain = fam.logpdf(y, eta, {"y": y}, aux)
    freq = fam.logpdf(y, eta, {"y": y, "weights": w, "weights_kind": "frequency"}, aux)
    np.testing.assert_allclose(freq, w * plain)
    analytic = fam.logpdf(y, eta, {"y": y, "weights": w, "weights_kind": "analytic"}, aux)
    expected = pm.logp(pm.Normal.dist(mu=eta, sigma=1.3 / np.sqrt(w)), y).eval()
    np.testing.assert_allclose(analytic, expected, rtol=1e-10)


def test_mean_uses_trials_and_inverse_link():
    fam = get_family("binomial")
    np.testing.assert_allclose(fam.mean(np.array([0.0, np.log(3.0)]), {"n": np.array([10, 4])}), [5.0, 3.0])
    np.testing.assert_allclose(get_family("poisson").mean(np.log([2.0, 5.0]), {}), [2.0, 5.0])
    np.testing.assert_allclose(get_family("bernoulli", "probit").inverse_link(np.array([0.0])), [0.5])
    # the lognormal's mean is exp(mu + sigma^2 / 2), not its median exp(mu)
    np.testing.assert_allclose(
        get_family("lognormal").mean(np.array([0.0]), {}, {"sigma": 1.0}), [np.exp(0.5)]
    )


def test_gaussian_logpdf_broadcasts_a_shared_eta_against_per_draw_sigmas():
    # the density is computed in place on one array: it must take the broadcast shape of y, eta
    # and sigma, not eta's (a prior predictive check shares eta across draws of sigma)
    from scipy import stats

    fam = get_family("gaussian")
    y = RNG.normal(size=N)
    sigma = 1.5 * np.exp(0.2 * RNG.normal(size=(2, 3, 1)))
    for eta in (0.3, RNG.normal(size=N)):
        got = fam.logpdf(y, eta, {}, {"sigma": sigma})
        assert got.shape == (2, 3, N)
        np.testing.assert_allclose(got, stats.norm.logpdf(y, eta, sigma), rtol=1e-12)
