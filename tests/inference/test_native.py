"""The precompiled native log densities equal PyMC's graph.

The native callback (:mod:`bayesmix.inference.native`) replaces the compiled graph in
sampling, so it must give the same log density and gradient: compared with PyMC's own
``compile_logp``/``compile_dlogp`` of the same model at random unconstrained points.
Tolerance: 1e-10 relative (both are double precision evaluations of the same formulas,
summed in a different order; the log densities here are ~1e3 and differ by ~1e-8 at most
through constants such as log(2 pi) computed differently).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytensor
import pytest
from pytensor.compile.mode import Mode

import bayesmix as bm
from bayesmix.core import names
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


def _compare(built, design, kind, seed=3, scale=0.7, reference=None, mode=None, differences=False):
    prog = native.program(built, design, built.free_names)
    assert prog is not None and prog.kind == kind
    model = built.model if reference is None else reference
    # evaluated in Python (no machine code: seconds instead of a minute), by default without
    # PyMC's graph rewrites (a second or two less per model); Python floats as float64 (see
    # PROBIT_ORDINAL_CASES)
    with pytensor.config.change_flags(cast_policy="numpy+floatX"):
        mode = mode or Mode(linker="py", optimizer="fast_compile")
        logp, dlogp = model.compile_logp(mode=mode), model.compile_dlogp(mode=mode)
    start = model.initial_point()
    rng = np.random.default_rng(seed)
    for _ in range(4):
        point = {k: v + rng.normal(scale=scale, size=np.shape(v)) for k, v in start.items()}
        x = np.concatenate([np.ravel(point[model.rvs_to_values[rv].name]) for rv in model.free_RVs])
        value, grad = native.evaluate(prog, x)
        np.testing.assert_allclose(value, logp(point), rtol=1e-10)
        if not differences:
            np.testing.assert_allclose(grad, dlogp(point), rtol=1e-9, atol=1e-9)
            continue
        # PyMC's gradient is off by up to ~1e-7 relative here, and its log density has ~5e-8 of
        # rounding noise (too much for differences of it): the gradient is checked against PyMC's
        # at 1e-6 and against fourth-order central differences of the native log density, which
        # equals PyMC's to 1e-10 at every point checked (truncation ~h^4, rounding ~1e-16 |logp| / h:
        # below 1e-9 here, so 1e-8 is a failing tolerance)
        np.testing.assert_allclose(grad, dlogp(point), rtol=1e-6, atol=1e-6)
        h, fd = 1e-4, np.empty_like(x)
        for i in range(len(x)):
            f2, f1, m1, m2 = (native.evaluate(prog, x + t * h * np.eye(len(x))[i])[0] for t in (2, 1, -1, -2))
            fd[i] = (8.0 * (f1 - m1) - (f2 - m2)) / (12.0 * h)
        np.testing.assert_allclose(grad, fd, rtol=1e-8, atol=1e-8)


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
    d["prop"] = rng.beta(4.0, 6.0, size=len(d))
    d["cell"] = d["item"].astype(str) + "-" + (d.Days % 3).astype(str)  # nested in item
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
    (
        "Reaction ~ Days + age + (Days | Subject) + (1 | item)",
        "gamma",
        {"Subject": True, "item": False},
        None,
    ),
    ("Reaction ~ Days + (1 + Days || Subject)", "gamma", False, {"shape": "exponential(0.1)"}),
    ("Reaction ~ Days + (Days | Subject) + (1 | item)", "lognormal", {"Subject": True, "item": False}, None),
    ("Reaction ~ 0 + Days + (1 | Subject)", "lognormal", False, {"sigma": "half_normal(1)"}),
    ("prop ~ Days + w + (Days | Subject) + (1 | item)", "beta", {"Subject": True, "item": False}, None),
    ("prop ~ Days + (1 | Subject)", "beta", False, {"phi": "gamma(2, 0.1)"}),
    (
        "Reaction ~ Days + age + (Days | Subject) + (1 | item)",
        "student",
        {"Subject": True, "item": False},
        None,
    ),
    (
        "Reaction ~ Days + (1 | Subject)",
        "student",
        False,
        {"nu": "exponential(0.1)", "sigma": "half_cauchy(20)"},
    ),
    # nested intercepts, non-centred: their SDs as a total variance and its shares
    ("count ~ Days + (1 | item) + (1 | cell)", "poisson", False, None),
    ("y01 ~ Days + (1 | Subject) + (1 | item) + (1 | cell)", "bernoulli", False, {"sd": "half_normal(2)"}),
]
#: the cases whose nested factors' SDs are sampled as variance shares
SHARES = {ROWS_CASES[i][0] for i in (-2, -1)}


@pytest.mark.parametrize("formula,family,centered,priors", ROWS_CASES)
def test_rows_log_density_and_gradient_equal_pymc(glmm_data, formula, family, centered, priors):
    m = bm.Model(formula, glmm_data, family=family, centered=centered, priors=priors)
    assert (names.SD_SHARES in m.built.free_names) == (formula in SHARES)
    # beta: PyMC's graph computes 1 - sigmoid(eta) by subtraction, which loses its digits where
    # mu is within 1e-12 of 1 (reached at this test's default jitter); the native side does not
    # subtract, so the points stay where PyMC's value is exact
    # bernoulli: PyMC's logit density needs its stability rewrites (log1pexp) to be exact here
    mode = Mode(linker="py", optimizer="fast_run") if family == "bernoulli" else None
    _compare(m.built, m.design, "rows", scale=0.3 if family == "beta" else 0.7, mode=mode)


# crossed Gaussian models with one factor integrated out given the others (the collapsed rows kernel)
CROSSED_CASES = [
    ("Reaction ~ Days + (Days | Subject) + (1 | item)", "auto", None),
    ("Reaction ~ Days + w + (1 | Subject) + (1 + w | item)", {"item": False}, {"sd": "half_normal(30)"}),
    ("Reaction ~ Days + (1 + Days || Subject) + (1 | item)", {"item": True}, None),
    # cell is nested in item, so cell is integrated out and item's intercept is one per group of
    # its rows; with an offset, a slope on the integrated-out factor and a weighted other factor
    ("Reaction ~ Days + offset(w) + (1 | Subject) + (1 | cell) + (1 | item)", "auto", None),
    ("Reaction ~ w + (1 + Days || cell) + (0 + w | Subject) + (1 | item)", "auto", None),
    # intercepts only, one other factor per row: the density reads sufficient statistics (with
    # an intercept, centred; without one, and with a centred other factor)
    ("Reaction ~ Days + w + (1 | Subject) + (1 | item)", "auto", None),
    ("Reaction ~ 0 + Days + (1 | Subject) + (1 | item)", {"Subject": True}, None),
]
#: the cases whose density reads the rows' sufficient statistics instead of the rows
SUFFICIENT = {CROSSED_CASES[i][0] for i in (3, 5, 6)}


# the probit link and the ordinal family, with the ordered cutpoints.  PyMC's reference is built
# with Python floats as float64 constants: by default ``pm.math.invprobit``'s sqrt(2) is a float32
# constant, which moves the probit probabilities by ~6e-7 relative.  The points are drawn closer to
# the start (scale 0.2): PyMC's OrderedLogistic subtracts CDFs, which loses digits for categories
# far in a tail (0.015 of -994 at scale 0.7), while the native density has no subtraction; and
# PyMC's Bernoulli at p = Phi(eta) is -inf once Phi(eta) rounds to 1 (eta > 8.3; scale 0.1).
# Without the rewrites (FAST_COMPILE): the Python implementations of the rewritten ordinal graph
# were 2e-7 off in the gradient, where the numba-compiled graph, the unrewritten one and central
# differences of the native density agree to 1e-8 or better.  PyMC's gradient of the probit
# Bernoulli is ~1e-7 off (see _compare's ``differences``).
PROBIT_ORDINAL_CASES = [
    ("rating ~ Days + (Days | Subject) + (1 | item)", "cumulative", "logit", False, 0.2),
    ("rating ~ Days + w + (1 | Subject)", "cumulative", "probit", True, 0.2),
    (
        "ordered ~ 1 + (1 | Subject) + (1 | item)",
        "cumulative",
        "logit",
        {"Subject": True, "item": False},
        0.2,
    ),
    ("ordered ~ w + (1 + w || Subject)", "cumulative", "probit", False, 0.2),
    ("y01 ~ Days + age + (Days | Subject) + (1 | item)", "bernoulli", "probit", "auto", 0.1),
]


@pytest.mark.parametrize("formula,family,link,centered,scale", PROBIT_ORDINAL_CASES)
def test_probit_and_ordinal_log_density_and_gradient_equal_pymc(
    glmm_data, formula, family, link, centered, scale
):
    d = glmm_data.assign(rating=pd.cut(glmm_data.Reaction, [0, 250, 300, 350, 1000], labels=False) + 1)
    d["ordered"] = pd.Categorical.from_codes(d.rating - 1, ["low", "mid", "high", "top"], ordered=True)
    m = bm.Model(formula, d, family=family, link=link, centered=centered)
    with pytensor.config.change_flags(cast_policy="numpy+floatX"):
        reference = bm.Model(formula, d, family=family, link=link, centered=centered).built.model
    _compare(
        m.built,
        m.design,
        "rows",
        scale=scale,
        reference=reference,
        mode="FAST_COMPILE",
        differences=family == "bernoulli",
    )


@pytest.mark.parametrize("formula,centered,priors", CROSSED_CASES)
def test_crossed_collapsed_log_density_and_gradient_equal_pymc(glmm_data, formula, centered, priors):
    m = bm.Model(formula, glmm_data, centered=centered, priors=priors)
    built = m.built_collapsed
    assert built.collapsed.strategy == "crossed"
    if "cell" in formula:  # item's intercept enters once per cell, not once per row
        assert built.collapsed.factor == "cell"
        prog = native.program(built, m.design, built.free_names)
        assert prog.arrays[[a for a, _ in native.rows.ARRAYS].index("pindex")].shape[0] == 1
    prog = native.program(built, m.design, built.free_names)
    tstart = prog.arrays[[a for a, _ in native.rows.ARRAYS].index("tstart")]
    assert (len(tstart) > 1) == (formula in SUFFICIENT)
    _compare(built, m.design, "rows")


# nested factors integrated out: one and two varying coefficients, correlated or not (||), three
# levels, no intercept, non-default priors
NESTED_CASES = [
    ("Reaction ~ Days + (1 | team/Subject)", None),
    (
        "Reaction ~ Days + z + (Days | team) + (Days | team:Subject)",
        {"cor": "lkj(2)", "sd": "half_cauchy(10)"},
    ),
    ("Reaction ~ Days + (Days || team) + (1 | team:Subject)", {"sigma": "gamma(2, 0.1)"}),
    ("Reaction ~ Days + (1 | league) + (1 | league:team) + (Days || league:team:Subject)", None),
    ("Reaction ~ 0 + Days + (1 | team/Subject)", {"b": "normal(0, 20)", "sd": "exponential(0.1)"}),
]


@pytest.mark.parametrize("formula,priors", NESTED_CASES)
def test_nested_collapsed_log_density_and_gradient_equal_pymc(data, formula, priors):
    team = data.Subject.astype(str).map(lambda s: f"t{int(s) % 4}")
    d = data.assign(team=team, league=team.map(lambda t: "a" if t in ("t0", "t1") else "b"))
    m = bm.Model(formula, d, priors=priors)
    assert m.built_collapsed.collapsed.strategy == "nested"
    _compare(m.built_collapsed, m.design, "nested")


def test_models_it_does_not_cover_go_through_the_graph(data):
    d = data.assign(
        item=np.arange(len(data)) % 7,
        team=data.Subject.astype(str).map(lambda s: f"t{int(s) % 4}"),
        y01=(data.Reaction > 300).astype(int),
        prop=np.linspace(0.1, 0.9, len(data)),
    )
    for formula, family, link in [
        ("prop ~ Days + (1 | Subject)", "beta", "probit"),  # a link it does not know
    ]:
        m = bm.Model(formula, d, family=family, link=link)
        built = m.built_collapsed if family == "gaussian" else m.built
        assert native.program(built, m.design, built.free_names) is None
    # weights (any family)
    m = bm.Model(
        "Reaction ~ Days + (1 | Subject)", d.assign(w=1.0 + d.Days % 3), family="student", weights="w"
    )
    assert native.program(m.built, m.design, m.built.free_names) is None


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


def test_variance_shares_far_from_the_mode_give_finite_values_and_gradients(glmm_data):
    # a log total variance of -800 makes the SDs ~1e-174, whose squares underflow to 0: the
    # shares' gradient must not become 0 / 0; at +60 (SDs ~1e13) the density is finite too
    m = bm.Model("count ~ Days + (1 | item) + (1 | cell)", glmm_data, family="poisson", centered=False)
    prog = native.program(m.built, m.design, m.built.free_names)
    model = m.built.model
    start = model.initial_point()
    names_ = [model.rvs_to_values[rv].name for rv in model.free_RVs]
    shares = [n for n in names_ if n.startswith(names.SD_SHARES)]
    assert len(shares) == 1
    for total in (-800.0, 60.0):
        point = dict(start, **{shares[0]: np.array([total, 3.0])})
        x = np.concatenate([np.ravel(point[n]) for n in names_])
        value, grad = native.evaluate(prog, x)
        assert np.isfinite(value) and np.all(np.isfinite(grad)), total


def test_native_glmm_posterior_equals_the_graph_s_within_monte_carlo_error(glmm_data):
    # the same model sampled through the native rows density and through PyMC's compiled graph
    # (a cache passed explicitly compiles the graph): every population effect and SD agrees
    # within 4 combined Monte Carlo standard errors (sd / sqrt(bulk ESS) each), so a wrong
    # density or gradient shifts a mean by far more than the tolerance
    from bayesmix.inference.compiled import CompileCache

    # (intercepts only: the graph of a correlated slope took 35 s to compile with an empty cache
    # against 23 s; the native density's correlated blocks are checked point by point above)
    m = bm.Model("count ~ Days + age + (1 | Subject) + (1 | item)", glmm_data, family="poisson")
    assert native.program(m.built, m.design, m.built.free_names) is not None
    kw = dict(draws=1000, tune=1000, progressbar=False)
    fits = [m.fit(seed=3, **kw), m.fit(seed=4, cache=CompileCache(), **kw)]
    for f in fits:  # mixed chains (else the Monte Carlo errors are too wide for the test to fail);
        # a divergence or two is allowed: the true SDs are 0 here, the posterior's funnel
        assert not f.convergence["stuck_chains"]
        assert f.convergence["max_rhat"] <= 1.01 and f.convergence["min_ess_bulk"] >= 400
    a, b = (f.summary() for f in fits)
    rows = [r for r in a.index if r.startswith(("b_", "sd_", "cor_"))]
    assert len(rows) == 5  # three population effects, two SDs
    mcse = np.sqrt(
        (a.loc[rows, "sd"] ** 2 / a.loc[rows, "ess_bulk"])
        + (b.loc[rows, "sd"] ** 2 / b.loc[rows, "ess_bulk"])
    )
    assert ((a.loc[rows, "mean"] - b.loc[rows, "mean"]).abs() < 4 * mcse).all()


def test_the_population_part_is_evaluated_on_distinct_rows_when_they_are_few():
    # the rows density gathers eta from the distinct rows of the population matrix when there are
    # at most a quarter as many as rows (the densities above, equal to PyMC's, cover both ways)
    from bayesmix.inference.native import rows

    rng = np.random.default_rng(3)
    days = np.column_stack([np.ones(180), np.tile(np.arange(10.0), 18)])
    XT, pat = rows.distinct_rows(days)
    assert XT.shape == (2, 10) and pat.shape == (180,)
    np.testing.assert_array_equal(XT[:, pat].T, days)
    continuous = np.column_stack([np.ones(180), rng.normal(size=180)])
    XT, pat = rows.distinct_rows(continuous)
    assert XT.shape == (2, 180) and pat.size == 0
    np.testing.assert_array_equal(XT.T, continuous)


def test_the_rows_exp_is_within_one_ulp_of_libm_and_keeps_nan_and_overflow():
    from bayesmix.inference.native.families import exp_rows

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-708, 708, 200_000), rng.normal(0, 3, 200_000), [0.0, -0.0, 1e-300]])
    libm = np.frompyfunc(math.exp, 1, 1)  # Python's math.exp: the C library's, as numba's call was
    for sign, ref in ((1, libm(x).astype(float)), (-1, libm(-np.abs(x)).astype(float))):
        mant, bits = np.empty_like(x), np.empty(x.size, np.int64)
        exp_rows(x, sign, mant, bits)
        ours = mant * bits.view(np.float64)
        assert np.max(np.abs(ours - ref) / np.spacing(ref)) <= 1.0
    edge = np.array([np.nan, 709.9, 1e308, np.inf])
    mant, bits = np.empty_like(edge), np.empty(edge.size, np.int64)
    exp_rows(edge, 1, mant, bits)
    out = mant * bits.view(np.float64)
    assert np.isnan(out[0]) and np.all(np.isposinf(out[1:]))
