"""Predictions: population level equals X b, conditional means reproduce coef(), new levels
spread as the fitted SDs say, marginal GLMM means differ from effects-at-zero as they should."""

import warnings

import numpy as np
import pandas as pd
import pytest

import bayesmix as bm
from bayesmix.errors import ArgumentError, DataError

KW = dict(draws=500, tune=500, chains=2, seed=5, progressbar=False)


def _fit(model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bm.ConvergenceWarning)
        return model.fit(**KW)


@pytest.fixture(scope="module")
def sleep():
    return _fit(bm.Model("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy")))


def test_population_level_link_equals_x_b(sleep):
    pred = sleep.predict(kind="link", groups=None)
    b = sleep.posterior["b"].transpose("chain", "draw", "term").values
    np.testing.assert_allclose(pred.draws.values, np.einsum("cdt,nt->cdn", b, sleep.design.X), rtol=1e-12)
    assert pred.draws.dims == ("chain", "draw", "obs")


def test_conditional_means_reproduce_coef_fitted_values(sleep):
    df = bm.datasets.load("sleepstudy")
    mean = sleep.predict().summary()["mean"].to_numpy()
    coef = sleep.coef("Subject")["mean"].unstack("coef")
    fitted = (
        coef.loc[df["Subject"].astype(str), "Intercept"].to_numpy()
        + coef.loc[df["Subject"].astype(str), "Days"].to_numpy() * df["Days"].to_numpy()
    )
    # the same draws averaged in another order: equal to rounding
    np.testing.assert_allclose(mean, fitted, rtol=1e-10)


def test_new_data_and_a_new_subject(sleep):
    new = pd.DataFrame({"Days": [0, 9, 0], "Subject": ["308", "308", "new"]})
    with pytest.raises(DataError, match=r"factor 'Subject' has levels not in the fitted data: \['new'\]"):
        sleep.predict(new)
    a = sleep.predict(new, new_levels="sample", seed=1).draws.values
    b = sleep.predict(new, new_levels="sample", seed=1).draws.values
    np.testing.assert_array_equal(a, b)  # a seed makes new-level draws reproducible
    pop = sleep.predict(new, groups=None).draws.values
    # the new subject: population prediction plus an intercept drawn with SD sd(Intercept);
    # the mean square of the difference estimates E[sd^2] (4% Monte Carlo SE with 1,000 draws)
    diff = a[..., 2] - pop[..., 2]
    sd2 = (sleep.posterior["sd_Subject"].sel(Subject__coef="Intercept").values ** 2).mean()
    assert abs((diff**2).mean() / sd2 - 1) < 0.2
    assert np.std(a[..., 2]) > np.std(pop[..., 2])  # wider than the population-level prediction
    same = sleep.predict(new, new_levels="population").draws.values[..., 2]
    np.testing.assert_allclose(same, pop[..., 2])


def test_posterior_predictive_draws_spread_with_sigma(sleep):
    mu = sleep.predict(kind="mean").draws.values
    y = sleep.predict(kind="prediction", seed=3).draws.values
    resid_sd = np.std(y - mu)
    sigma = sleep.posterior["sigma"].values.mean()
    assert abs(resid_sd / sigma - 1) < 0.05  # 360,000 residual draws: SE far below 1%


def test_bad_arguments_are_named(sleep):
    with pytest.raises(ArgumentError, match="kind"):
        sleep.predict(kind="response_scale")
    with pytest.raises(ArgumentError, match="factor"):
        sleep.predict(groups=["Nope"])
    with pytest.raises(DataError, match="unknown predictor column 'Days'"):
        sleep.predict(pd.DataFrame({"Subject": ["308"]}))


def test_marginal_logit_mean_is_pulled_towards_one_half():
    rng = np.random.default_rng(2)
    g = np.repeat(np.arange(40), 25)
    x = rng.normal(size=g.size)
    eta = 1.5 + 1.0 * x + rng.normal(0, 2.0, 40)[g]
    df = pd.DataFrame({"y": (rng.random(g.size) < 1 / (1 + np.exp(-eta))).astype(int), "x": x, "g": g})
    fit = _fit(bm.Model("y ~ x + (1 | g)", df, family="bernoulli"))
    new = pd.DataFrame({"x": [-1.0, 0.0, 1.0], "g": [0, 0, 0]})
    at_zero = fit.predict(new, groups=None).summary()["mean"].to_numpy()
    averaged = fit.predict(new, marginal=True, seed=1).summary()["mean"].to_numpy()
    # integrating a logistic curve over N(0, ~2^2) effects flattens it towards 1/2 ...
    assert np.all(np.abs(averaged - 0.5) < np.abs(at_zero - 0.5))
    # ... to what the logistic-normal approximation expit(eta / sqrt(1 + pi sd^2 / 8)) says, draw
    # by draw (the approximation is good to about 0.01; Monte Carlo error with 100 effect draws
    # per posterior draw is far smaller)
    eta = fit.predict(new, kind="link", groups=None).draws.values
    sd = fit.posterior["sd_g"].values[..., 0]
    approx = (1 / (1 + np.exp(-eta / np.sqrt(1 + np.pi * sd[..., None] ** 2 / 8)))).mean(axis=(0, 1))
    np.testing.assert_allclose(averaged, approx, atol=0.02)
    # a new group's label does not matter to a population average; averaging over no factor
    # is refused rather than silently giving the effects-at-0 mean
    other = fit.predict(new.assign(g="unseen"), marginal=True, seed=1).summary()["mean"].to_numpy()
    np.testing.assert_allclose(other, averaged)
    with pytest.raises(ArgumentError, match="factors to average over when marginal=True"):
        fit.predict(new, groups=None, marginal=True)


def test_binomial_means_use_the_rows_trials():
    cbpp = bm.datasets.load("cbpp")
    fit = _fit(bm.Model("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial"))
    p = fit.predict(kind="link").draws.values
    mu = fit.predict().draws.values
    np.testing.assert_allclose(mu, cbpp["size"].to_numpy() / (1 + np.exp(-p)))
    y = fit.predict(kind="prediction", seed=2).draws.values
    assert np.all(y <= cbpp["size"].to_numpy()) and np.all(y >= 0)


def test_a_new_group_uses_its_own_level_two_value():
    radon = bm.datasets.load("radon")
    fit = _fit(
        bm.Model("log_radon ~ floor + (1 | county)", radon, level2={"county": {"Intercept": "~ log_uranium"}})
    )
    new = pd.DataFrame({"floor": [0, 0], "county": ["NEW A", "NEW B"], "log_uranium": [-0.5, 0.5]})
    eta = fit.predict(new, kind="link", new_levels="population").draws.values
    b = fit.posterior["b"].sel(term="log_uranium").values
    # population-level prediction of a new county: g00 + g01 * its log uranium
    np.testing.assert_allclose(eta[..., 1] - eta[..., 0], b * 1.0, rtol=1e-10)
    with pytest.raises(DataError, match="log_uranium"):
        fit.predict(new.drop(columns="log_uranium"), new_levels="population")
    with pytest.raises(DataError, match="log_uranium"):
        fit.predict(new.assign(log_uranium=[np.nan, 1.0]), new_levels="population")


@pytest.mark.parametrize(
    "name,formula",
    [
        ("penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)"),
        ("pastes", "strength ~ 1 + (1 | batch/cask)"),
    ],
)
def test_crossed_and_nested_factors_add_their_effects_row_by_row(name, formula):
    data = bm.datasets.load(name)
    fit = _fit(bm.Model(formula, data))
    post, design = fit.posterior, fit.design
    b = post["b"].sel(term="Intercept").values[..., None]
    parts = {
        f.name: post[f"r_{f.name}"]
        .transpose("chain", "draw", f.dim, f"{f.name}__coef")
        .values[:, :, f.index, 0]
        for f in design.factors
    }
    assert fit.collapsed is not None  # group effects come from the exact conditional draws
    np.testing.assert_allclose(fit.predict(kind="link").draws.values, b + sum(parts.values()), rtol=1e-10)
    first, second = (f.name for f in design.factors)
    np.testing.assert_allclose(
        fit.predict(kind="link", groups=[first]).draws.values, b + parts[first], rtol=1e-10
    )
    # a new level of one factor, sampled: its spread is that factor's SD
    new = data.iloc[[0] * 400].copy()
    col = design.factor(second).columns[-1]
    new[col] = [f"new{i}" for i in range(400)]
    eta = fit.predict(new, kind="link", groups=[second], new_levels="sample", seed=1).draws.values - b
    sd = post[f"sd_{second}"].values.ravel()
    assert np.std(eta) == pytest.approx(np.sqrt(np.mean(sd**2)), rel=0.05)  # 400 x 1000 draws: SE ~1%
