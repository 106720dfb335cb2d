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
* the LKJ(eta) prior on a correlation block is placed on its canonical partial
  correlations (:mod:`bayesmix.core.linalg`), so no Jacobian of the Cholesky map is
  needed and the graph stays small and quick to compile.

Variables a user reads: ``b`` (dims ``term``), ``sd_<factor>`` (dims
``<factor>__coef``), ``cor_<factor>`` (dims ``<factor>__cor``), ``r_<factor>``
(dims ``<factor>``, ``<factor>__coef``) and the family's parameters (``sigma``, ``nu``,
``shape``, ``phi``; an ordinal model's cutpoints ``Intercept``, dim ``cutpoint``, with no
population intercept: ``eta = (X - mean(X)) @ b``).  Variables whose names
start with ``_`` are the sampler's internal coordinates (all names: :mod:`bayesmix.core.names`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from bayesmix.collapsed import GraphParts, integrated_out, strategy
from bayesmix.collapsed import make as make_collapse
from bayesmix.core import names
from bayesmix.core.linalg import (
    cholesky_from_cpc,
    correlations,
    cpc_beta_params,
    group_effects,
)
from bayesmix.core.predictor import coefficient_mean
from bayesmix.core.slots import data_slot
from bayesmix.graph.parameterization import (
    choose_around,
    informativeness_response,
    resolve_centered,
    shared_variance,
)
from bayesmix.graph.transforms import VarianceShares
from bayesmix.spec.design import Design, FactorDesign
from bayesmix.spec.families import Family
from bayesmix.spec.priors import Prior, PriorSet

__all__ = ["build_model", "BuiltModel", "centring_means"]


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


def _stacked(priors: list[Prior]) -> Prior:
    """One prior of the family the ``priors`` share, its parameters as arrays over them."""
    stacked = Prior.__new__(Prior)
    object.__setattr__(stacked, "dist", priors[0].dist)
    params = tuple(np.array([p.params[k] for p in priors]) for k in range(len(priors[0].params)))
    object.__setattr__(stacked, "params", params)
    return stacked


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
        rv_name = name if single else names.split_var(name, dist)
        if scalar:
            kw = {}
            stacked = priors[0]
        else:
            kw = {"dims": dims} if single and dims else {"shape": len(idx)}
            stacked = _stacked([priors[i] for i in idx])
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
    aux : tuple of str
        The family's extra parameters (``sigma``, ``nu``, ``shape``, ``phi``, ``Intercept``).
    family : Family
        The response family the model was built for.
    response : dict
        The family's prepared response arrays it was built on.
    """

    model: pm.Model
    parts: dict
    centered: dict
    xbar: np.ndarray | None
    slope_idx: tuple[int, ...]
    around: dict
    collapsed: object = None
    aux: tuple[str, ...] = ()
    family: Family | None = None
    response: Mapping | None = None

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
    centered = resolve_centered(centered, design, informativeness_response(family.name, design, data))
    partial = None  # with crossed factors, the one integrated out given the others
    how = strategy(design, family)[0] if collapse else None
    if how == "crossed":
        (partial,) = integrated_out(design, how)
        centered = {**centered, partial.name: False}
    around = choose_around(design, centered)
    X = design.X
    terms = list(design.terms)
    parts: dict = {}
    xbar = None
    slope_idx: list[int] = []
    coords = design.coords()
    for a in family.aux(data):
        if a.ordered:
            coords[names.CUTPOINT] = [str(k + 1) for k in range(a.size)]
    with pm.Model(coords=coords) as model:
        if design.has_intercept:
            i0 = terms.index("Intercept")
            slope_idx = [j for j in range(len(terms)) if j != i0]
            xbar = X[:, slope_idx].mean(axis=0)
            icpt = _vector_rv(names.INTERCEPT_C, [priors["Intercept"]], None, False, parts, scalar=True)
            eta = icpt
            b_s = None
            if slope_idx:
                b_s = _vector_rv(
                    names.SLOPES, [priors[names.b_label(terms[j])] for j in slope_idx], None, False, parts
                )
                eta = eta + _population_part(design, slope_idx, xbar, b_s)
                full = pt.concatenate([pt.atleast_1d(icpt - pt.dot(data_slot("xbar", xbar), b_s)), b_s])
                pm.Deterministic(names.B, full[np.argsort([i0, *slope_idx])], dims=names.TERM)
            else:
                pm.Deterministic(names.B, pt.atleast_1d(icpt), dims=names.TERM)
        elif terms:
            b = _vector_rv(names.B, [priors[names.b_label(t)] for t in terms], names.TERM, False, parts)
            if family.has_intercept:
                eta = pt.dot(data_slot("X", X), b)
            else:  # cutpoints instead of an intercept: centre X, shift the cutpoints back
                xbar = X.mean(axis=0)
                eta = pt.dot(data_slot("X_c", X - xbar), b)
        else:
            eta = pt.constant(0.0)

        if how in ("one_factor", "nested"):
            hypers = [_collapsed_hyper(f, priors, parts) for f in integrated_out(design, how)]
            sigma = _vector_rv(names.SIGMA, [priors["sigma"]], None, True, parts, scalar=True)
            ss = make_collapse(how, design, data["y"], xbar, slope_idx)
            g = GraphParts(
                icpt=icpt if design.has_intercept else None,
                slopes=b_s if design.has_intercept else b,
                hypers=hypers,
                sigma=sigma,
            )
            pm.Potential("collapsed_loglik", ss.add_loglik(g))
            return BuiltModel(
                model=model,
                parts=parts,
                centered=dict.fromkeys(centered, False),
                xbar=xbar,
                slope_idx=tuple(slope_idx),
                around={},
                collapsed=ss,
                aux=(names.SIGMA,),
                family=family,
                response=data,
            )
        sampled = [f.name for f in design.factors if partial is None or f.name != partial.name]
        pooled = _shared_sds(design, centered, priors, parts, sampled)
        others = []  # with a factor integrated out: the other factors' effects, gathered by its Op
        for f in design.factors:
            if f.name not in sampled:
                continue
            means = None
            if around.get(f.name):
                w = {
                    t.term: data_slot(f"{f.name}.W_{t.term}", np.nan_to_num(t.values))
                    for t in design.level2
                    if t.factor == f.name
                }
                means = centring_means(f, around[f.name], icpt, b_s, design, slope_idx, pt, w)
            r = _group_effects_rv(f, priors, centered[f.name], parts, means, pooled.get(f.name))
            if partial is not None:
                others.append(r)
            else:
                eta = eta + _gather(f, r)

        if design.offset is not None:
            eta = eta + data_slot("offset", design.offset)
        aux = _aux_rvs(
            family, data, priors, parts, None if (design.has_intercept or not terms) else (xbar, b)
        )
        sigma = aux.get(names.SIGMA)
        rows = None
        if partial is not None:
            hypers = [_collapsed_hyper(partial, priors, parts)]
            rows = make_collapse(how, design, data["y"], xbar, slope_idx)
            g = GraphParts(icpt=None, slopes=None, hypers=hypers, sigma=sigma, eta=eta, others=others)
            pm.Potential("collapsed_loglik", rows.add_loglik(g))
        else:
            numeric = {k: v for k, v in data.items() if isinstance(v, np.ndarray) and v.dtype.kind in "biuf"}
            family.observe(eta, data | {k: data_slot(k, v) for k, v in numeric.items()}, aux)
    return BuiltModel(
        model=model,
        parts=parts,
        centered=centered,
        xbar=xbar,
        slope_idx=tuple(slope_idx),
        around=around,
        collapsed=rows,
        aux=tuple(a.name for a in family.aux(data)),
        family=family,
        response=data,
    )


def _aux_rvs(family: Family, data: dict, priors: PriorSet, parts: dict, shift) -> dict:
    """The family's extra parameters as random variables, by name.

    Cutpoints are sampled for the centred design (``_Intercept_cut``, increasing); the
    reported ``Intercept`` adds back ``mean(X) @ b`` when ``shift`` = (xbar, b) is given.
    """
    out = {}
    for a in family.aux(data):
        prior = priors[a.name]
        if not a.ordered:
            out[a.name] = _vector_rv(a.name, [prior], None, True, parts, scalar=True)
            continue
        init = np.linspace(-1.0, 1.0, a.size) * (1.0 if a.size > 1 else 0.0)
        kw = {"shape": a.size, "transform": pm.distributions.transforms.ordered, "initval": init}
        if prior.dist == "flat":
            c = pm.Flat(names.CUTPOINTS_C, **kw)
        else:
            c = _make_rv(names.CUTPOINTS_C, prior, kw)
        reported = c if shift is None else c + pt.dot(data_slot("xbar", shift[0]), shift[1])
        pm.Deterministic(a.name, reported, dims=names.CUTPOINT)
        out[a.name] = c
    return out


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
    level-two prediction (:func:`bayesmix.core.predictor.coefficient_mean`); 0 for
    coefficients without a population term.  Shared by the graph (``xp`` = pytensor) and
    the draw expansion (``xp`` = numpy); ``w`` maps a level-two term to its group values
    as a graph input (numpy's by default).  Reads the sampled ``Intercept_c`` and slopes.
    """

    def get_b(term):
        return icpt if term == "Intercept" else b_s[..., list(slope_idx).index(design.terms.index(term))]

    cols = [
        coefficient_mean(f, coef, design, get_b, xp, icpt, around_f.get(c), w)
        for c, coef in enumerate(f.coefs)
    ]
    return xp.stack(cols, axis=-1)


def _shared_sds(design: Design, centered: dict, priors: PriorSet, parts: dict, sampled) -> dict:
    """Nested factors' intercept SDs as one variable under :class:`VarianceShares`.

    Returns factor -> its SD vector (length 1); empty when
    :func:`~bayesmix.graph.parameterization.shared_variance` picks no factors.
    """
    label = {f.name: names.sd_label(f.name, "Intercept") for f in design.factors if f.coefs == ("Intercept",)}
    pooled = shared_variance(design, centered, {n: priors[label[n]].dist for n in label}, sampled)
    if not pooled:
        return {}
    stacked = _stacked([priors[label[n]] for n in pooled])
    sds = _make_rv(names.SD_SHARES, stacked, {"shape": len(pooled), "default_transform": VarianceShares()})
    out = {}
    for j, name in enumerate(pooled):
        parts[names.sd_var(name)] = [(names.SD_SHARES, np.array([0]), j)]
        out[name] = pm.Deterministic(names.sd_var(name), sds[j : j + 1], dims=names.coef_dim(name))
    return out


def _factor_hyper(f: FactorDesign, priors: PriorSet, parts: dict, sd=None):
    """The factor's SDs and, with correlated coefficients, its CPCs and Cholesky factor
    (``sd``: the SDs when already made, see :func:`_shared_sds`)."""
    name = f.name
    if sd is None:
        sd = _vector_rv(
            names.sd_var(name),
            [priors[names.sd_label(name, c)] for c in f.coefs],
            names.coef_dim(name),
            True,
            parts,
        )
    pairs = f.cor_pairs()
    L = cpc = None
    if pairs:
        beta = data_slot(
            f"cpc_{name}.beta",
            cpc_beta_params(f.correlated_blocks, priors[names.cor_class_label(name)].params[0]),
        )
        u = pm.Beta(names.cpc_var(name), alpha=beta, beta=beta, shape=len(pairs))
        cpc = 2.0 * u - 1.0
        L = cholesky_from_cpc(cpc, f, pt)
        pm.Deterministic(names.cor_var(name), correlations(L, pairs, pt), dims=names.cor_dim(name))
    return sd, L, cpc


def _collapsed_hyper(f: FactorDesign, priors: PriorSet, parts: dict):
    """An integrated-out factor's ``(sd, rho, L)`` (rho: a pair's correlation, 0 if independent)."""
    sd, L, cpc = _factor_hyper(f, priors, parts)
    rho = cpc[0] if cpc is not None else (pt.constant(0.0) if len(f.coefs) == 2 else None)
    return sd, rho, L


def _group_effects_rv(f: FactorDesign, priors: PriorSet, centered: bool, parts: dict, means=None, sd=None):
    """The factor's group effects ``r`` (J, k) with their priors, in the chosen parameterisation."""
    name = f.name
    k = len(f.coefs)
    sd, L, _ = _factor_hyper(f, priors, parts, sd)
    dims = (f.dim, names.coef_dim(name))
    if not centered:
        z = pm.Normal(names.z_var(name), 0.0, 1.0, dims=dims)
        r = pm.Deterministic(names.r_var(name), group_effects(z, L, sd, pt), dims=dims)
    elif means is None and L is None:
        r = pm.Normal(names.r_var(name), 0.0, sd, dims=dims)
    elif means is None:
        r = pm.MvNormal(names.r_var(name), mu=np.zeros(k), chol=sd[:, None] * L, dims=dims)
    else:
        m_name = names.m_var(name)
        if L is None:
            m = pm.Normal(m_name, means, sd, dims=dims)
        else:
            m = pm.MvNormal(m_name, mu=means, chol=sd[:, None] * L, dims=dims)
        r = pm.Deterministic(names.r_var(name), m - means, dims=dims)
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
