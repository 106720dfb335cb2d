"""Build the PyMC model of a design and its priors.  Builds only: never samples.

Graph layout (all vectorised; no Python loop over rows or groups):

* population part: ``eta = Intercept_c + (X - mean(X)) @ b`` when the design
  has an intercept (the reported ``Intercept`` is recovered as
  ``Intercept_c - mean(X) @ b``, as brms does), else ``X @ b``;
* per grouping factor with ``k`` varying coefficients: ``r = (z @ L.T) * sd``
  with ``z`` standard normal (non-centred), ``L`` the block-diagonal Cholesky
  factor of the correlation matrix and ``sd`` the per-coefficient SDs; a centred
  factor samples ``r`` from its (multivariate) normal, or, for the coarsest centred
  factor, ``m = b + W gamma + r`` around its population and level-two prediction
  (see :mod:`bayesmix.parameterization`);
* level-two columns ``Z_c * W[group]`` enter as ``Z_c * (W @ gamma)[group]``, a
  product on the J group rows (see :mod:`bayesmix.level2`);
* with ``collapse=True`` the group effects are integrated out instead
  (:mod:`bayesmix.collapsed`);
* the LKJ(eta) prior on a correlation block of size ``m`` is placed on its
  canonical partial correlations (CPCs): under LKJ the CPC in column ``j`` is
  ``2 * Beta(eta + (m - 2 - j) / 2, same) - 1``, independently (Lewandowski,
  Kurowicka & Joe, 2009), so no Jacobian of the Cholesky map is needed and the
  graph stays small and quick to compile; ``L`` is filled from the CPCs row by
  row: ``L[i, j] = cpc[i, j] * sqrt(1 - sum_{m<j} L[i, m]^2)``.

Variables a user reads: ``b`` (dims ``term``), ``sd_<factor>`` (dims
``<factor>__coef``), ``cor_<factor>`` (dims ``<factor>__cor``), ``r_<factor>``
(dims ``<factor>``, ``<factor>__coef``) and ``sigma``.  Variables whose names
start with ``_`` are the sampler's internal coordinates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt

from .design import Design, FactorDesign
from .families import Family
from .parameterization import choose_around, resolve_centered
from .priors import Prior, PriorSet

__all__ = ["build_model", "BuiltModel", "INTERNAL_PREFIX", "DATA_PREFIX", "data_slot"]

INTERNAL_PREFIX = "_"
#: prefix of the graph's data inputs (see :func:`data_slot`)
DATA_PREFIX = "data__"


def data_slot(name: str, value):
    """A named shared variable holding numbers the graph reads (data, prior parameters).

    Every number that comes from the data or the priors enters the graph this
    way rather than as a constant, so the compiled log density depends only on
    the model's structure: a model refitted to new data (a simulation study, a
    new sample) reuses the compiled function, swapping the values in.
    """
    arr = np.asarray(value)
    arr = arr.astype(np.int64) if arr.dtype.kind in "biu" else arr.astype(float)
    return pytensor.shared(arr, name=f"{DATA_PREFIX}{name}")


def _make_rv(name: str, prior: Prior, kw: dict):
    """A PyMC random variable for ``prior`` (parameters may be arrays)."""
    p = [data_slot(f"{name}.{i}", v) for i, v in enumerate(prior.params)]
    d = prior.dist
    if d == "normal":
        return pm.Normal(name, mu=p[0], sigma=p[1], **kw)
    if d == "student_t":
        return pm.StudentT(name, nu=p[0], mu=p[1], sigma=p[2], **kw)
    if d == "cauchy":
        return pm.Cauchy(name, alpha=p[0], beta=p[1], **kw)
    if d == "half_normal":
        return pm.HalfNormal(name, sigma=p[0], **kw)
    if d == "half_student_t":
        return pm.HalfStudentT(name, nu=p[0], sigma=p[1], **kw)
    if d == "half_cauchy":
        return pm.HalfCauchy(name, beta=p[0], **kw)
    if d == "exponential":
        return pm.Exponential(name, lam=p[0], **kw)
    if d == "gamma":
        return pm.Gamma(name, alpha=p[0], beta=p[1], **kw)
    raise AssertionError(d)  # pragma: no cover - parse_prior rejects others


def _vector_rv(
    name: str, priors: list[Prior], dims: str | None, positive: bool, parts_out: dict, scalar: bool = False
):
    """A vector of parameters whose elements may have different priors.

    Elements sharing a distribution family become one PyMC variable with
    vector parameters; with one family the variable is ``name`` itself.
    ``parts_out[name]`` records (variable name, element indices) so that
    :func:`bayesmix.expand.expand_posterior` can reassemble the vector from the draws.
    """
    groups: dict[str, list[int]] = {}
    for i, pr in enumerate(priors):
        groups.setdefault(pr.dist, []).append(i)
    single = len(groups) == 1
    rvs = []
    parts = []
    for dist, idx in groups.items():
        rv_name = name if single else f"{INTERNAL_PREFIX}{name}__{dist}"
        if scalar:
            kw = {}
            stacked = priors[0]
        else:
            kw = {"dims": dims} if single and dims else {"shape": len(idx)}
            params = tuple(
                np.array([priors[i].params[k] for i in idx]) for k in range(len(priors[idx[0]].params))
            )
            stacked = Prior.__new__(Prior)
            object.__setattr__(stacked, "dist", dist)
            object.__setattr__(stacked, "params", params)
        if dist == "flat":
            rv = pm.HalfFlat(rv_name, **kw) if positive else pm.Flat(rv_name, **kw)
        else:
            rv = _make_rv(rv_name, stacked, kw)
        rvs.append(rv)
        parts.append((rv_name, np.asarray(idx)))
    parts_out[name] = parts
    if single:
        return rvs[0]
    order = np.argsort(np.concatenate([idx for _, idx in parts]))
    vec = pt.concatenate(rvs)[order]
    return pm.Deterministic(name, vec, dims=dims) if dims is not None else vec


def cholesky_from_cpc(cpc, factor: FactorDesign, xp):
    """Block-diagonal Cholesky factor of the factor's correlation matrix.

    Written once for both backends: ``xp`` is ``pytensor.tensor`` when building
    the graph (``cpc`` of shape ``(n_pairs,)``) and ``numpy`` when expanding
    draws (``cpc`` of shape ``(..., n_pairs)``).  Returns shape ``(..., k, k)``.
    """
    k = len(factor.coefs)
    one = xp.ones_like(cpc[..., 0])
    zero = xp.zeros_like(cpc[..., 0])
    L = [[one if i == j else zero for j in range(k)] for i in range(k)]
    pos = 0
    for block in factor.correlated_blocks:
        m = len(block)
        for ii in range(1, m):
            row = block[ii]
            used = zero
            for jj in range(ii):
                value = cpc[..., pos] * xp.sqrt(1.0 - used)
                L[row][block[jj]] = value
                used = used + value**2
                pos += 1
            L[row][row] = xp.sqrt(1.0 - used)
    return xp.stack([xp.stack(r, axis=-1) for r in L], axis=-2)


def covariance_matrix(sd, L, xp):
    """``Sigma = diag(sd) L L' diag(sd)`` (``L`` None: independent), shape ``(..., k, k)``."""
    if L is None:
        k = sd.shape[-1]
        return sd[..., :, None] ** 2 * xp.eye(k)
    sdL = sd[..., :, None] * L
    return sdL @ xp.swapaxes(sdL, -1, -2) if xp is np else pt.dot(sdL, sdL.T)


def correlations(L, pairs, xp):
    """The correlations ``(L @ L.T)[i, j]`` for the index pairs, shape ``(..., n_pairs)``."""
    return xp.stack([(L[..., i, :] * L[..., j, :]).sum(axis=-1) for i, j in pairs], axis=-1)


def group_effects(z, L, sd, xp):
    """Non-centred group effects ``(z @ L.T) * sd``; ``z`` is ``(..., J, k)``."""
    if L is None:
        return z * sd[..., None, :]
    return xp.matmul(z, xp.swapaxes(L, -1, -2)) * sd[..., None, :]


def _cpc_params(factor: FactorDesign, eta: float) -> np.ndarray:
    """Beta parameter of each CPC, in ``cor_pairs`` order."""
    out = []
    for block in factor.correlated_blocks:
        m = len(block)
        for ii in range(1, m):
            for jj in range(ii):
                out.append(eta + (m - 2 - jj) / 2.0)
    return np.asarray(out, dtype=float)


@dataclass(frozen=True)
class BuiltModel:
    """A built PyMC model with what is needed to turn its draws into reported quantities.

    Attributes
    ----------
    model : pymc.Model
        The graph; inspect it, or sample it with any PyMC tool.
    parts : dict
        Vector name -> [(PyMC variable, element indices)] for vectors split by prior family.
    centered : dict
        Factor name -> centred parameterisation.
    xbar : ndarray or None
        Means of the non-intercept design columns (centring of the intercept).
    slope_idx : tuple of int
        Design columns of the population slopes (all but the intercept).
    around : dict
        Factor name -> {coefficient index: population term} for the one factor whose
        centred group coefficients are drawn around the population coefficients
        (hierarchical centring); empty for other factors.
    collapsed : SuffStats or None
        Set when the group effects are integrated out (:mod:`bayesmix.collapsed`).
    """

    model: pm.Model
    parts: dict
    centered: dict
    xbar: np.ndarray | None
    slope_idx: tuple[int, ...]
    around: dict
    collapsed: object = None

    @property
    def free_names(self) -> list[str]:
        """Names of the sampled (free) variables."""
        return [v.name for v in self.model.free_RVs]


def build_model(
    design: Design,
    family: Family,
    data: dict[str, np.ndarray],
    priors: PriorSet,
    centered: str | bool | Mapping[str, bool] = "auto",
    collapse: bool = False,
) -> BuiltModel:
    """Build the PyMC model.

    Parameters
    ----------
    design : Design
        From :func:`bayesmix.design.make_design`.
    family : Family
        Response family.
    data : dict
        The family's prepared response arrays.
    priors : PriorSet
        From :func:`bayesmix.priors.default_priors` and overrides.
    centered : "auto", bool or dict
        Centred parameterisation of group effects, for all factors or per factor.
        ``"auto"`` centres factors whose groups the data inform well (see
        :mod:`bayesmix.parameterization`).  Of the centred factors, the
        one with fewest levels draws its group coefficients around the matching
        population coefficients (``m_j ~ N(b, Sigma)``, ``r_j = m_j - b``): this
        hierarchical centring removes the ridge between the intercept and the
        group effects that slows sampling when there are few, well-measured groups.

    collapse : bool
        Integrate the group effects out (Gaussian; see :mod:`bayesmix.collapsed`
        for the designs covered); the caller checks
        :func:`bayesmix.collapsed.applies` first.

    Returns
    -------
    BuiltModel
    """
    centered = resolve_centered(centered, design, data.get("y") if family.name == "gaussian" else None)
    partial = None  # with crossed factors, the one integrated out given the others
    if collapse and len(design.factors) > 1:
        from .collapsed import nested_chain, partial_factor

        if nested_chain(design) is None:
            partial = partial_factor(design)
            centered = {**centered, partial.name: False}
    around = choose_around(design, centered)
    X = design.X
    terms = list(design.terms)
    parts: dict = {}
    xbar = None
    slope_idx: list[int] = []
    with pm.Model(coords=design.coords()) as model:
        if design.has_intercept:
            i0 = terms.index("Intercept")
            slope_idx = [j for j in range(len(terms)) if j != i0]
            xbar = X[:, slope_idx].mean(axis=0)
            icpt = _vector_rv(
                f"{INTERNAL_PREFIX}Intercept_c", [priors["Intercept"]], None, False, parts, scalar=True
            )
            eta = icpt
            b_s = None
            if slope_idx:
                b_s = _vector_rv(
                    f"{INTERNAL_PREFIX}b", [priors[f"b_{terms[j]}"] for j in slope_idx], None, False, parts
                )
                eta = eta + _population_part(design, slope_idx, xbar, b_s)
                full = pt.concatenate([pt.atleast_1d(icpt - pt.dot(data_slot("xbar", xbar), b_s)), b_s])
                pm.Deterministic("b", full[np.argsort([i0, *slope_idx])], dims="term")
            else:
                pm.Deterministic("b", pt.atleast_1d(icpt), dims="term")
        elif terms:
            b = _vector_rv("b", [priors[f"b_{t}"] for t in terms], "term", False, parts)
            eta = pt.dot(data_slot("X", X), b)
        else:
            eta = pt.constant(0.0)

        if collapse and partial is None:
            from .collapsed import (
                NestedStats,
                SuffStats,
                covariance,
                marginal_loglik,
                nested_chain,
                nested_loglik,
            )

            hypers = []
            chain = design.factors if len(design.factors) == 1 else nested_chain(design)
            Ls = []
            for f in chain:
                sd, L, cpc = _factor_hyper(f, priors, parts)
                rho = cpc[0] if cpc is not None else (pt.constant(0.0) if len(f.coefs) == 2 else None)
                hypers.append((sd, rho))
                Ls.append(L)
            sigma = _vector_rv("sigma", [priors["sigma"]], None, True, parts, scalar=True)
            b_all = b_s if design.has_intercept else b
            if len(chain) == 1:
                ss = SuffStats(design, data["y"], xbar, slope_idx)
                (sd, rho), icpt_in = hypers[0], (icpt if design.has_intercept else None)
                k = len(chain[0].coefs)
                # k <= 2: closed-form entries (a smaller graph, quicker to compile); else sd L L' sd
                Sigma = covariance(sd, rho, k) if k <= 2 else covariance_matrix(sd, Ls[0], pt)
                loglik = marginal_loglik(icpt_in, b_all, Sigma, sigma, design, ss.as_graph_inputs())
            else:
                ss = NestedStats(design, data["y"], xbar, slope_idx, chain)
                if design.has_intercept:
                    theta = (
                        pt.concatenate([pt.atleast_1d(icpt), b_s]) if b_s is not None else pt.atleast_1d(icpt)
                    )
                else:
                    theta = b
                loglik = nested_loglik(theta, hypers, sigma, ss.as_graph_inputs())
            pm.Potential("collapsed_loglik", loglik)
            return BuiltModel(
                model=model,
                parts=parts,
                centered=dict.fromkeys(centered, False),
                xbar=xbar,
                slope_idx=tuple(slope_idx),
                around={},
                collapsed=ss,
            )
        others = []  # with a factor integrated out: the other factors' effects, gathered by its Op
        for f in design.factors:
            if partial is not None and f.name == partial.name:
                continue
            means = None
            if around.get(f.name):
                w = {
                    t.term: data_slot(f"{f.name}.W_{t.term}", np.nan_to_num(t.values))
                    for t in design.level2
                    if t.factor == f.name
                }
                means = centring_means(f, around[f.name], icpt, b_s, design, slope_idx, pt, w)
            r = _group_effects_rv(f, priors, centered[f.name], parts, means)
            if partial is not None:
                others.append(r)
            else:
                eta = eta + _gather(f, r)

        if design.offset is not None:
            eta = eta + data_slot("offset", design.offset)
        sigma = None
        if family.has_sigma:
            sigma = _vector_rv("sigma", [priors["sigma"]], None, True, parts, scalar=True)
        rows = None
        if partial is not None:
            from .collapsed import RowsCollapse

            sd, L, _ = _factor_hyper(partial, priors, parts)
            rows = RowsCollapse(design, data["y"], partial)
            pm.Potential("collapsed_loglik", rows.loglik(eta, others, covariance_matrix(sd, L, pt), sigma))
        else:
            numeric = {k: v for k, v in data.items() if isinstance(v, np.ndarray) and v.dtype.kind in "biuf"}
            family.observe(eta, data | {k: data_slot(k, v) for k, v in numeric.items()}, sigma=sigma)
    return BuiltModel(
        model=model,
        parts=parts,
        centered=centered,
        xbar=xbar,
        slope_idx=tuple(slope_idx),
        around=around,
        collapsed=rows,
    )


def _population_part(design: Design, slope_idx: list[int], xbar: np.ndarray, b_s):
    """``(X - xbar) @ b`` with level-two columns computed on the J group rows.

    A level-two column is ``Z_c * W[group]``; its contribution is
    ``Z_c * (W @ gamma)[group]``, a product on J rows gathered to N.
    """
    X, terms = design.X, design.terms
    l2 = {t.term: t for t in design.level2}
    pos = {j: k for k, j in enumerate(slope_idx)}
    l1 = [j for j in slope_idx if terms[j] not in l2]
    eta = 0.0
    if l1:
        Xc = data_slot("X_centred", X[:, l1] - xbar[[pos[j] for j in l1]])
        eta = pt.dot(Xc, b_s[[pos[j] for j in l1]])
    groups: dict[tuple[str, str], list[int]] = {}
    for j in slope_idx:
        if terms[j] in l2:
            groups.setdefault((l2[terms[j]].factor, l2[terms[j]].coef), []).append(j)
    for (fname, coef), cols in groups.items():
        f = design.factor(fname)
        W = data_slot(
            f"{fname}.W_{coef}", np.column_stack([np.nan_to_num(l2[terms[j]].values) for j in cols])
        )
        g = b_s[[pos[j] for j in cols]]
        per_group = pt.dot(W, g)[data_slot(f"{fname}.index_l2_{coef}", f.index)]
        zc = f.Z[:, f.coefs.index(coef)]
        xb = data_slot(f"{fname}.xbar_l2_{coef}", xbar[[pos[j] for j in cols]])
        eta = (
            eta
            + (per_group if np.all(zc == 1.0) else data_slot(f"{fname}.Z_l2_{coef}", zc) * per_group)
            - pt.dot(xb, g)
        )
    return eta


def centring_means(f: FactorDesign, around_f: dict, icpt, b_s, design: Design, slope_idx, xp, w=None):
    """Means the hierarchically centred group coefficients are drawn around, shape ``(..., J, k)``.

    Coefficient ``c``'s mean in group ``j``: its population coefficient plus its
    level-two prediction ``W_j @ gamma_c``; 0 for coefficients without a population term.
    Shared by the graph (``xp`` = pytensor) and the draw expansion (``xp`` = numpy);
    ``w`` maps a level-two term to its group values as a graph input (numpy's by default).
    """
    ones = np.ones(f.n_levels)
    cols = []
    for c, coef in enumerate(f.coefs):
        term = around_f.get(c)
        if term is None:
            base = xp.zeros_like(icpt)
        elif term == "Intercept":
            base = icpt
        else:
            base = b_s[..., list(slope_idx).index(design.terms.index(term))]
        col = base[..., None] * ones
        for t in design.level2:
            if t.factor == f.name and t.coef == coef:
                g = b_s[..., list(slope_idx).index(design.terms.index(t.term))]
                col = col + g[..., None] * (np.nan_to_num(t.values) if w is None else w[t.term])
        cols.append(col)
    return xp.stack(cols, axis=-1)


def _factor_hyper(f: FactorDesign, priors: PriorSet, parts: dict):
    """The factor's SDs and, with correlated coefficients, its CPCs and Cholesky factor."""
    name = f.name
    sd = _vector_rv(f"sd_{name}", [priors[f"sd_{name}__{c}"] for c in f.coefs], f"{name}__coef", True, parts)
    pairs = f.cor_pairs()
    L = cpc = None
    if pairs:
        beta = data_slot(f"cpc_{name}.beta", _cpc_params(f, priors[f"cor_{name}"].params[0]))
        u = pm.Beta(f"{INTERNAL_PREFIX}cpc_{name}", alpha=beta, beta=beta, shape=len(pairs))
        cpc = 2.0 * u - 1.0
        L = cholesky_from_cpc(cpc, f, pt)
        pm.Deterministic(f"cor_{name}", correlations(L, pairs, pt), dims=f"{name}__cor")
    return sd, L, cpc


def _group_effects_rv(f: FactorDesign, priors: PriorSet, centered: bool, parts: dict, means=None):
    """The factor's group effects ``r`` (J, k) with their priors, in the chosen parameterisation."""
    name = f.name
    k = len(f.coefs)
    sd, L, _ = _factor_hyper(f, priors, parts)
    dims = (f.dim, f"{name}__coef")
    if not centered:
        z = pm.Normal(f"{INTERNAL_PREFIX}z_{name}", 0.0, 1.0, dims=dims)
        r = pm.Deterministic(f"r_{name}", group_effects(z, L, sd, pt), dims=dims)
    elif means is None and L is None:
        r = pm.Normal(f"r_{name}", 0.0, sd, dims=dims)
    elif means is None:
        r = pm.MvNormal(f"r_{name}", mu=np.zeros(k), chol=sd[:, None] * L, dims=dims)
    else:
        m_name = f"{INTERNAL_PREFIX}m_{name}"
        if L is None:
            m = pm.Normal(m_name, means, sd, dims=dims)
        else:
            m = pm.MvNormal(m_name, mu=means, chol=sd[:, None] * L, dims=dims)
        r = pm.Deterministic(f"r_{name}", m - means, dims=dims)
    return r


def _gather(f: FactorDesign, r):
    """The factor's contribution to the rows' linear predictor, ``sum_c Z_c * r[group, c]``."""
    idx = data_slot(f"{f.name}.index", f.index)
    contrib = 0.0
    for c in range(len(f.coefs)):
        zc = f.Z[:, c]
        term = r[idx, c]
        if not np.all(zc == 1.0):
            term = data_slot(f"{f.name}.Z{c}", zc) * term
        contrib = contrib + term
    return contrib
