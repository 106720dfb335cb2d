"""The precompiled native log densities equal PyMC's graph.

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
    _compare(m.built_collapsed, m.design, "one_factor")


def _compare(built, design, kind, seed=3, scale=0.7):
    prog = native.program(built, design, built.free_names)
    assert prog is not None and prog.kind == kind
    model = built.model
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    start = model.initial_point()
    rng = np.random.default_rng(seed)
    for _ in range(4):
        point = {k: v + rng.normal(scale=scale, size=np.shape(v)) for k, v in start.items()}
        x = np.concatenate([np.ravel(point[model.rvs_to_values[rv].name]) for rv in model.free_RVs])
        value, grad = native.evaluate(prog, x)
        np.testing.assert_allclose(value, logp(point), rtol=1e-10)
        np.testing.assert_allclose(grad, dlogp(point), rtol=1e-9, atol=1e-9)


@pytest.fixture(scope="module")
def glmm_data(data):
    rng = np.random.default_rng(7)
    d = data.assign(item=np.arange(len(data)) % 7, w=rng.normal(size=len(data)))
    subj = d.Subject.astype(str)
    level = {s: rng.normal() for s in sorted(subj.unique())}
    d["age"] = subj.map(level)  # constant within Subject: a level-two predictor
    d["y01"] = (d.Reaction > 300).astype(int)
    d["count"] = rng.poisson(np.exp(0.5 + 0.1 * d.Days))
    d["trials"] = 10
    d["succ"] = rng.binomial(10, 0.3, size=len(d))
    d["expo"] = rng.uniform(0.5, 2.0, size=len(d))
    return d


# (formula, family, centred, priors): every family the rows kind knows, each factor parameterisation
# (non-centred, centred, centred on the population coefficients), crossed factors, || and
# correlated blocks, a level-two predictor, an offset
ROWS_CASES = [
    ("y01 ~ Days + (Days | Subject) + (1 | item)", "bernoulli", False, None),
    ("y01 ~ Days + (Days | Subject) + (1 | item)", "bernoulli", True, None),
    (
        "y01 ~ Days + age + (Days | Subject) + (1 + w || item)",
        "bernoulli",
        {"Subject": True, "item": False},
        None,
    ),
    ("succ | trials(trials) ~ w + (1 + Days + w | Subject)", "binomial", True, {"cor": "lkj(3)"}),
    ("count ~ Days + age + offset(np.log(expo)) + (1 | Subject) + (1 | item)", "poisson", True, None),
    (
        "count ~ 0 + Days + (1 + Days | Subject)",
        "poisson",
        False,
        {"b": "normal(0, 1)", "sd": "exponential(1)"},
    ),
    ("count ~ Days + (1 | Subject) + (1 | item)", "negbinomial", {"Subject": False, "item": True}, None),
    ("Reaction ~ Days + (Days | Subject) + (1 | item)", "gaussian", {"Subject": True, "item": False}, None),
]


@pytest.mark.parametrize("formula,family,centered,priors", ROWS_CASES)
def test_rows_log_density_and_gradient_equal_pymc(glmm_data, formula, family, centered, priors):
    m = bm.Model(formula, glmm_data, family=family, centered=centered, priors=priors)
    _compare(m.built, m.design, "rows")


# crossed Gaussian models with one factor integrated out given the others (the collapsed rows kernel)
CROSSED_CASES = [
    ("Reaction ~ Days + (Days | Subject) + (1 | item)", "auto", None),
    ("Reaction ~ Days + w + (1 | Subject) + (1 + w | item)", {"item": False}, {"sd": "half_normal(30)"}),
    ("Reaction ~ Days + (1 + Days || Subject) + (1 | item)", {"item": True}, None),
]


@pytest.mark.parametrize("formula,centered,priors", CROSSED_CASES)
def test_crossed_collapsed_log_density_and_gradient_equal_pymc(glmm_data, formula, centered, priors):
    m = bm.Model(formula, glmm_data, centered=centered, priors=priors)
    built = m.built_collapsed
    assert built.collapsed.strategy == "crossed"
    _compare(built, m.design, "rows")


def test_models_it_does_not_cover_go_through_the_graph(data):
    d = data.assign(
        item=np.arange(len(data)) % 7,
        team=data.Subject.astype(str).map(lambda s: f"t{int(s) % 4}"),
        y01=(data.Reaction > 300).astype(int),
    )
    for formula, family, link in [
        ("Reaction ~ Days + (1 | team/Subject)", "gaussian", None),  # nested, integrated out
        ("y01 ~ Days + (1 | Subject)", "bernoulli", "probit"),  # a link the rows density does not know
        ("Reaction ~ Days + (1 | Subject)", "student", None),  # a family it does not know
    ]:
        m = bm.Model(formula, d, family=family, link=link)
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


def test_native_glmm_posterior_equals_the_graph_s_within_monte_carlo_error(glmm_data):
    # the same model sampled through the native rows density and through PyMC's compiled graph
    # (a cache passed explicitly compiles the graph): every population effect and SD agrees
    # within 4 combined Monte Carlo standard errors (sd / sqrt(bulk ESS) each), so a wrong
    # density or gradient shifts a mean by far more than the tolerance
    from bayesmix.inference.compiled import CompileCache

    m = bm.Model("count ~ Days + age + (1 + Days | Subject) + (1 | item)", glmm_data, family="poisson")
    assert native.program(m.built, m.design, m.built.free_names) is not None
    kw = dict(draws=1000, tune=1000, progressbar=False)
    fits = [m.fit(seed=3, **kw), m.fit(seed=4, cache=CompileCache(), **kw)]
    a, b = (f.summary() for f in fits)
    rows = [r for r in a.index if r.startswith(("b_", "sd_", "cor_"))]
    assert len(rows) == 7  # three population effects, three SDs, one correlation
    mcse = np.sqrt(
        (a.loc[rows, "sd"] ** 2 / a.loc[rows, "ess_bulk"])
        + (b.loc[rows, "sd"] ** 2 / b.loc[rows, "ess_bulk"])
    )
    assert ((a.loc[rows, "mean"] - b.loc[rows, "mean"]).abs() < 4 * mcse).all()
