"""The precompiled log density of one-factor Gaussian models equals PyMC's graph.

The native callback (:mod:`bayesmix.inference.native`) replaces the compiled graph in
sampling, so it must give the same log density and gradient: compared with PyMC's own
``compile_logp``/``compile_dlogp`` of the same model at random unconstrained points.
Tolerance: 1e-10 relative (both are double precision evaluations of the same formulas,
summed in a different order; the log densities here are ~1e3 and differ by ~1e-8 at most
through constants such as log(2 pi) computed differently).
"""

from __future__ import annotations

import numpy as np
import pytest

import bayesmix as bm
from bayesmix.inference import native

CASES = [
    ("Reaction ~ Days + (Days | Subject)", None),
    ("Reaction ~ 1 + (1 | Subject)", None),
    (
        "Reaction ~ Days + z + (Days || Subject)",
        {"b_z": "student_t(3, 0, 10)", "sd_Subject__Days": "exponential(0.2)", "sigma": "gamma(2, 0.1)"},
    ),
    (
        "Reaction ~ 0 + Days + (1 + Days + z | Subject)",
        {"b": "cauchy(0, 5)", "sd": "half_cauchy(10)", "cor": "lkj(2)", "sigma": "half_normal(50)"},
    ),
    ("Reaction ~ Days + (1 + Days + z | Subject)", {"Intercept": "flat()", "sd": "half_student_t(4, 20)"}),
]


@pytest.fixture(scope="module")
def data():
    d = bm.datasets.load("sleepstudy")
    d["z"] = np.random.default_rng(1).normal(size=len(d))
    return d


@pytest.mark.parametrize("formula,priors", CASES)
def test_log_density_and_gradient_equal_pymc(data, formula, priors):
    m = bm.Model(formula, data, priors=priors)
    built = m.built_collapsed
    prog = native.program(built, m.design, built.free_names)
    assert prog is not None
    model = built.model
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    start = model.initial_point()
    rng = np.random.default_rng(3)
    for _ in range(4):
        point = {k: v + rng.normal(scale=0.7, size=np.shape(v)) for k, v in start.items()}
        x = np.concatenate([np.ravel(point[model.rvs_to_values[rv].name]) for rv in model.free_RVs])
        value, grad = native.evaluate(prog, x)
        np.testing.assert_allclose(value, logp(point), rtol=1e-10)
        np.testing.assert_allclose(grad, dlogp(point), rtol=1e-9, atol=1e-9)


def test_models_it_does_not_cover_go_through_the_graph(data):
    d = data.assign(item=np.arange(len(data)) % 7, y01=(data.Reaction > 300).astype(int))
    for formula, family in [
        ("Reaction ~ Days + (1 | Subject) + (1 | item)", "gaussian"),  # crossed
        ("y01 ~ Days + (1 | Subject)", "bernoulli"),  # no collapsed likelihood
    ]:
        m = bm.Model(formula, d, family=family)
        built = m.built_collapsed if family == "gaussian" else m.built
        assert native.program(built, m.design, built.free_names) is None


def test_fit_through_the_native_path_matches_lme4_scale(data):
    # the sleepstudy posterior (brms/lme4 agree: b_Days ~ 10.47, SE ~1.5-1.7); 4 x 500 draws,
    # so Monte Carlo error of the mean ~0.05: the 0.5 tolerance is a tenth of the posterior's width
    fit = bm.Model("Reaction ~ Days + (Days | Subject)", data).fit(
        draws=500, tune=500, seed=5, progressbar=False
    )
    s = fit.summary()
    assert abs(s.loc["b_Days", "mean"] - 10.47) < 0.5
    assert abs(s.loc["b_Intercept", "mean"] - 251.4) < 2.0
    assert s["rhat"].max() <= 1.01


def test_a_singular_covariance_is_minus_infinity_not_a_number(data):
    # a correlation of exactly 1 (the CPC's logit past ~37) makes the covariance singular: the
    # density must be -inf there (nutpie then rejects the step), never a finite number
    m = bm.Model("Reaction ~ Days + (Days | Subject)", data)
    built = m.built_collapsed
    prog = native.program(built, m.design, built.free_names)
    model = built.model
    start = model.initial_point()
    names_ = [model.rvs_to_values[rv].name for rv in model.free_RVs]
    point = dict(start, **{"_cpc_Subject_logodds__": np.array([60.0])})
    x = np.concatenate([np.ravel(point[n]) for n in names_])
    value, _ = native.evaluate(prog, x)
    assert value == -np.inf
