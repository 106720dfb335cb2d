"""Simulated data have the requested moments; parameter values are checked; posterior and prior
simulation use the fitted and the prior distributions."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

import bayesmix as bm
from bayesmix.simulate.draw import simulate_frames
from bayesmix.simulate.params import from_draws

SLOPES = {
    "b": {"Intercept": 3.0, "x": 0.75},
    "sd": {"cluster": {"Intercept": 0.5, "x": 0.3}},
    "cor": {"cluster": 0.25},
    "sigma": 1.0,
}


@pytest.fixture(scope="module")
def big():
    df = bm.simulate.design({"cluster": 2000}, rows=5, within={"x": "normal(0, 1)"}, seed=1)
    return bm.Model.from_design("y ~ x + (1 + x | cluster)", df)


def test_group_effects_and_residuals_have_the_requested_moments(big):
    sim = big.simulate(SLOPES, seed=4)
    u = sim.attrs["effects"]["cluster"]
    # 2000 groups: SE of an SD ~ sd / sqrt(2 J) (1.6%), of the correlation ~ (1 - r^2) / sqrt(J) (0.021)
    np.testing.assert_allclose(u.std(axis=0, ddof=1), [0.5, 0.3], rtol=0.07)
    assert np.corrcoef(u.T)[0, 1] == pytest.approx(0.25, abs=0.09)
    g = sim["cluster"].str[1:].astype(int).to_numpy()
    resid = sim["y"] - (3.0 + u[g, 0] + (0.75 + u[g, 1]) * sim["x"])
    assert resid.std() == pytest.approx(1.0, rel=0.03)  # 10,000 rows: SE 0.7%
    assert sim.attrs["params"]["cor_cluster__Intercept__x"] == 0.25


def test_the_two_forms_of_parameters_give_the_same_data(big):
    flat = {
        "b_Intercept": 3.0,
        "b_x": 0.75,
        "sd_cluster__Intercept": 0.5,
        "sd_cluster__x": 0.3,
        "cor_cluster__Intercept__x": 0.25,
        "sigma": 1.0,
    }
    pd.testing.assert_frame_equal(big.simulate(SLOPES, seed=9), big.simulate(flat, seed=9))
    a, b = big.simulate(SLOPES, n=2, seed=9)
    assert not a["y"].equals(b["y"])


@pytest.mark.parametrize("family", ["bernoulli", "poisson"])
def test_glm_responses_follow_the_inverse_link(family):
    df = bm.simulate.design({"g": 500}, rows=20, within={"x": "normal(0, 1)"}, seed=2)
    m = bm.Model.from_design("y ~ x + (1 | g)", df, family=family)
    sim = m.simulate({"b": {"Intercept": -0.5, "x": 0.4}, "sd": {"g": 0.6}}, seed=3)
    u = sim.attrs["effects"]["g"][:, 0]
    eta = -0.5 + 0.4 * sim["x"] + u[sim["g"].str[1:].astype(int)]
    mu = special.expit(eta) if family == "bernoulli" else np.exp(eta)
    # 10,000 rows: the mean response within 4 Monte Carlo SEs of the mean of mu
    se = np.sqrt(np.mean(mu * (1 - mu) if family == "bernoulli" else mu) / len(mu))
    assert abs(sim["y"].mean() - mu.mean()) < 4 * se
    assert set(np.unique(sim["y"])) <= ({0, 1} if family == "bernoulli" else set(range(10_000)))


def test_binomial_uses_the_trials_and_writes_the_failures():
    cbpp = bm.datasets.load("cbpp")
    cbpp["fail"] = cbpp["size"] - cbpp["incidence"]
    m = bm.Model("cbind(incidence, fail) ~ period + (1 | herd)", cbpp, family="binomial")
    sim = m.simulate(
        {
            "b_Intercept": -1.4,
            "b_period[T.2]": -1,
            "b_period[T.3]": -1.1,
            "b_period[T.4]": -1.6,
            "sd_herd__Intercept": 0.6,
        },
        seed=1,
    )
    assert (sim["incidence"] + sim["fail"] == cbpp["size"]).all() and (sim["incidence"] <= cbpp["size"]).all()


def test_bad_parameters_are_named(big):
    with pytest.raises(bm.ArgumentError, match="missing \\['x'\\]"):
        big.simulate({**SLOPES, "b": {"Intercept": 3}})
    with pytest.raises(bm.ArgumentError, match="sigma"):
        big.simulate({k: v for k, v in SLOPES.items() if k != "sigma"})
    with pytest.raises(bm.ArgumentError, match="positive definite"):
        big.simulate({**SLOPES, "cor": {"cluster": [[1, 1.2], [1.2, 1]]}})
    with pytest.raises(bm.ArgumentError, match="b_z"):
        big.simulate({"b_z": 1})
    with pytest.raises(bm.ArgumentError, match="schools"):
        big.simulate({**SLOPES, "sd": {**SLOPES["sd"], "schools": 1}})


def test_a_fitted_model_simulates_from_its_posterior_with_overrides(sleep_fit):
    a = sleep_fit.simulate(n=3, seed=5, params={"b_Days": 0.0})
    b = sleep_fit.simulate(n=3, seed=5, params={"b_Days": 0.0})
    assert all(x.equals(y) for x, y in zip(a, b, strict=True))
    assert all(x.attrs["params"]["b_Days"] == 0.0 for x in a)
    draws = sleep_fit.posterior["sigma"].values.ravel()
    assert a[0].attrs["params"]["sigma"] in draws  # a posterior draw, not a summary


def test_the_numpy_simulator_matches_the_pymc_graph_and_the_priors():
    # The same parameter draws (the graph's prior) fed to both: PyMC's prior predictive of the
    # observed variable and bm's simulator.  Per draw, the SD and mean of y over the 120 rows are one
    # independent value each; a two-sample KS test over 1500 draws compares their distributions.
    # Poisson: the log link and the group effects' covariance are both on the path.
    df = bm.simulate.design({"g": 12}, rows=10, within={"x": "normal(0, 1)"}, seed=5)
    priors = {"Intercept": "normal(0.5, 0.3)", "b": "normal(0, 0.3)", "sd": "half_normal(0.5)"}
    m = bm.Model.from_design("y ~ x + (1 + x | g)", df, family="poisson", priors=priors)
    tree = m.prior_predictive(draws=1500, seed=11)
    assert set(tree.children) == {"prior", "prior_predictive"}  # no observed data on a design
    theirs = tree["prior_predictive"]["y"].values[0]
    prior = tree["prior"].to_dataset()
    # the priors themselves: half_normal(0.5) has mean 0.5 sqrt(2 / pi) = 0.399; 3000 draws, SE 0.5%
    assert prior["sd_g"].values.mean() == pytest.approx(0.5 * np.sqrt(2 / np.pi), rel=0.05)
    tps = [from_draws(prior, m.design, 0, k) for k in range(1500)]
    ours = np.stack(
        [d["y"].to_numpy() for d in simulate_frames(m.data, m.design, m.family, m.response_data, tps, 3)]
    )
    for stat in (np.std, np.mean):
        p = stats.ks_2samp(stat(ours, axis=1), stat(theirs, axis=1)).pvalue
        assert p > 0.001, (stat.__name__, p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = bm.plots.plot_prior_predictive(tree)
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 3
