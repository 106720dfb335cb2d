"""Turn the sampler's draws of the free variables into the reported quantities.

Only the free variables are stored by the sampler (a smaller compiled function,
quicker to compile); ``b``, ``sd_*``, ``cor_*``, ``r_*`` and ``sigma`` are computed
here, with numpy, by the same transform functions the graph uses
(:mod:`bayesmix.core.linalg`, written once for both backends).  Integrated-out group
effects are drawn exactly from their conditional posterior for every draw
(:mod:`bayesmix.collapsed`).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from bayesmix.collapsed.crossed import RowsCollapse
from bayesmix.collapsed.nested import NestedStats, draw_nested_effects, nested_chain
from bayesmix.collapsed.one_factor import draw_group_effects
from bayesmix.core import names
from bayesmix.core.draws import assemble
from bayesmix.core.linalg import cholesky_from_cpc, correlations, covariance_matrix, group_effects
from bayesmix.graph.build import BuiltModel, centring_means
from bayesmix.spec.design import Design, FactorDesign

__all__ = ["expand_posterior"]


def _means_draws(post, design: Design, built: BuiltModel, f: FactorDesign) -> np.ndarray:
    """Draws of the means a hierarchically centred factor is centred on, ``(chain, draw, J, k)``."""
    icpt = np.asarray(post[names.INTERCEPT_C])
    b_s = assemble(post, names.SLOPES, built.parts) if built.slope_idx else None
    return centring_means(f, built.around[f.name], icpt, b_s, design, built.slope_idx, np)


def _collapsed_draws(post, design: Design, built: BuiltModel, seed) -> dict[str, np.ndarray]:
    """Exact conditional draws of the integrated-out group effects, by factor."""
    if not isinstance(built.collapsed, NestedStats):
        r = draw_group_effects(post, design, built.parts, built.slope_idx, built.collapsed, seed)
        return {design.factors[0].name: r}
    chain = nested_chain(design)
    icpt = np.asarray(post[names.INTERCEPT_C]) if design.has_intercept else None
    if design.has_intercept:
        cols = [icpt[..., None]]
        if built.slope_idx:
            cols.append(assemble(post, names.SLOPES, built.parts))
        theta = np.concatenate(cols, axis=-1)
    else:
        theta = assemble(post, names.B, built.parts)
    shape = theta.shape[:-1]
    flat = int(np.prod(shape))
    hypers = []
    for f in chain:
        sd = assemble(post, names.sd_var(f.name), built.parts).reshape(flat, -1)
        rho = None
        if len(f.coefs) == 2:
            rho = (
                2.0 * np.asarray(post[names.cpc_var(f.name)])[..., 0].reshape(flat) - 1.0
                if f.cor_pairs()
                else np.zeros(flat)
            )
        hypers.append((sd, rho))
    sigma = np.asarray(post[names.SIGMA]).reshape(flat)
    draws = draw_nested_effects(theta.reshape(flat, -1), hypers, sigma, built.collapsed, seed)
    return {f.name: r.reshape(shape + r.shape[1:]) for f, r in zip(chain, draws, strict=True)}


def _rows_draws(out: dict, design: Design, rows, sd, L, seed) -> np.ndarray:
    """Draws of the factor integrated out given the other factors (crossed models)."""
    shape = out[names.SIGMA][1].shape
    S = int(np.prod(shape))
    b = out[names.B][1].reshape(S, -1) if names.B in out else None
    u = np.concatenate([out[names.r_var(name)][1].reshape(S, -1) for name in rows.others], axis=-1)
    Sigma = covariance_matrix(sd.reshape(S, -1), None if L is None else L.reshape(S, *L.shape[-2:]), np)
    draws = rows.draw(b, u, Sigma, out[names.SIGMA][1].reshape(S), seed)
    return draws.reshape(shape + draws.shape[1:])


def expand_posterior(
    post: xr.Dataset, design: Design, built: BuiltModel, seed: int | None = None
) -> xr.Dataset:
    """Compute the reported variables (``b``, ``sd_*``, ``cor_*``, ``r_*``, ``sigma``) from free draws.

    The same transforms as the graph (shared code), applied with numpy to
    arrays of shape ``(chain, draw, ...)``; variables already present are kept.

    Parameters
    ----------
    post : xarray.Dataset
        Draws of the free variables (internal names included).
    design : Design
    built : BuiltModel
    """
    sample = ("chain", "draw")
    out = {}
    coords = {"chain": post["chain"].values, "draw": post["draw"].values, **design.coords()}
    p = built.parts
    rows = built.collapsed if isinstance(built.collapsed, RowsCollapse) else None
    collapsed_r = (
        _collapsed_draws(post, design, built, seed) if built.collapsed is not None and not rows else {}
    )
    if design.has_intercept:
        icpt = np.asarray(post[names.INTERCEPT_C])
        cols = [None] * len(design.terms)
        if built.slope_idx:
            b_s = assemble(post, names.SLOPES, p)
            cols[design.terms.index("Intercept")] = icpt - b_s @ built.xbar
            for t, j in enumerate(built.slope_idx):
                cols[j] = b_s[..., t]
        else:
            cols[0] = icpt
        out[names.B] = (sample + (names.TERM,), np.stack(cols, axis=-1))
    elif design.terms:
        out[names.B] = (sample + (names.TERM,), assemble(post, names.B, p))
    for f in design.factors:
        name = f.name
        sd = assemble(post, names.sd_var(name), p)
        out[names.sd_var(name)] = (sample + (names.coef_dim(name),), sd)
        L = None
        pairs = f.cor_pairs()
        if pairs:
            u = np.asarray(post[names.cpc_var(name)])
            L = cholesky_from_cpc(2.0 * u - 1.0, f, np)
            out[names.cor_var(name)] = (sample + (names.cor_dim(name),), correlations(L, pairs, np))
        if rows is not None and name == rows.factor:
            deferred = (f, sd, L)  # drawn given the other factors' effects, below
            continue
        if name in collapsed_r:
            r = collapsed_r[name]
        elif built.around.get(name):
            r = np.asarray(post[names.m_var(name)]) - _means_draws(post, design, built, f)
        elif built.centered[name]:
            r = np.asarray(post[names.r_var(name)])
        else:
            r = group_effects(np.asarray(post[names.z_var(name)]), L, sd, np)
        out[names.r_var(name)] = (sample + (f.dim, names.coef_dim(name)), r)
    if names.SIGMA in post or names.SIGMA in p:
        out[names.SIGMA] = (sample, np.asarray(post[names.SIGMA]))
    if rows is not None:
        f, sd, L = deferred
        out[names.r_var(f.name)] = (
            sample + (f.dim, names.coef_dim(f.name)),
            _rows_draws(out, design, rows, sd, L, seed),
        )
    used = {d for dims, _ in out.values() for d in dims}
    return xr.Dataset(out, coords={k: v for k, v in coords.items() if k in used}, attrs=dict(post.attrs))
