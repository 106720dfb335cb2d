"""Turn the sampler's draws of the free variables into the reported quantities.

Only the free variables are stored by the sampler (a smaller compiled function,
quicker to compile); ``b``, ``sd_*``, ``cor_*``, ``r_*``, the family's parameters
(``sigma``, ``nu``, ``shape``, ``phi``, cutpoints ``Intercept``) are computed
here, with numpy, by the same transform functions the graph uses
(:mod:`bayesmix.core.linalg`, written once for both backends).  Integrated-out group
effects are drawn exactly from their conditional posterior for every draw
(:mod:`bayesmix.collapsed`).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from bayesmix.collapsed.common import rng_for
from bayesmix.core import names
from bayesmix.core.draws import assemble
from bayesmix.core.linalg import cholesky_from_cpc, correlations, group_effects
from bayesmix.graph.build import BuiltModel, centring_means
from bayesmix.spec.design import Design, FactorDesign

__all__ = ["expand_posterior"]


def _means_draws(post, design: Design, built: BuiltModel, f: FactorDesign) -> np.ndarray:
    """Draws of the means a hierarchically centred factor is centred on, ``(chain, draw, J, k)``."""
    icpt = np.asarray(post[names.INTERCEPT_C])
    b_s = assemble(post, names.SLOPES, built.parts) if built.slope_idx else None
    return centring_means(f, built.around[f.name], icpt, b_s, design, built.slope_idx, np)


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
    # integrated-out effects are drawn last (crossed ones given the other factors' effects)
    deferred = set(built.collapsed.factors) if built.collapsed is not None else set()
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
        if name in deferred:
            out[names.r_var(name)] = None  # keeps the variables' order
            continue
        if built.around.get(name):
            r = np.asarray(post[names.m_var(name)]) - _means_draws(post, design, built, f)
        elif built.centered[name]:
            r = np.asarray(post[names.r_var(name)])
        else:
            r = group_effects(np.asarray(post[names.z_var(name)]), L, sd, np)
        out[names.r_var(name)] = (sample + (f.dim, names.coef_dim(name)), r)
    for a in built.aux:
        if a == names.CUTPOINTS:  # sampled for the centred design: shift back by mean(X) @ b
            c = np.asarray(post[names.CUTPOINTS_C])
            if built.xbar is not None and names.B in out:
                c = c + (out[names.B][1] @ built.xbar)[..., None]
            out[a] = (sample + (names.CUTPOINT,), c)
            coords[names.CUTPOINT] = [str(k + 1) for k in range(c.shape[-1])]
        else:
            out[a] = (sample, np.asarray(post[a]))
    if built.collapsed is not None:
        rng = rng_for(seed, built.collapsed.stream)
        drawn = built.collapsed.draw_effects(post, out, design, p, built.slope_idx, rng)
        for name, r in drawn.items():
            f = design.factor(name)
            out[names.r_var(name)] = (sample + (f.dim, names.coef_dim(name)), r)
    used = {d for dims, _ in out.values() for d in dims}
    return xr.Dataset(out, coords={k: v for k, v in coords.items() if k in used}, attrs=dict(post.attrs))
