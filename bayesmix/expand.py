"""Turn the sampler's draws of the free variables into the reported quantities.

Only the free variables are stored by the sampler (a smaller compiled function,
quicker to compile); ``b``, ``sd_*``, ``cor_*``, ``r_*`` and ``sigma`` are computed
here, with numpy, by the same transform functions the graph uses
(:mod:`bayesmix.build`, written once for both backends).  Integrated-out group
effects are drawn exactly from their conditional posterior for every draw
(:mod:`bayesmix.collapsed`).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .build import (
    INTERNAL_PREFIX,
    BuiltModel,
    centring_means,
    cholesky_from_cpc,
    correlations,
    covariance_matrix,
    group_effects,
)
from .collapsed import RowsCollapse
from .design import Design, FactorDesign

__all__ = ["expand_posterior", "assemble"]


def assemble(post, name: str, parts: dict):
    """Reassemble a vector split by prior family, or return the variable."""
    if name not in parts or len(parts[name]) == 1:
        return np.asarray(post[parts[name][0][0] if name in parts else name])
    n = sum(len(idx) for _, idx in parts[name])
    first = np.asarray(post[parts[name][0][0]])
    out = np.empty(first.shape[:-1] + (n,))
    for var, idx in parts[name]:
        out[..., idx] = np.asarray(post[var])
    return out


def _means_draws(post, design: Design, built: BuiltModel, f: FactorDesign) -> np.ndarray:
    """Draws of the means a hierarchically centred factor is centred on, ``(chain, draw, J, k)``."""
    icpt = np.asarray(post[f"{INTERNAL_PREFIX}Intercept_c"])
    b_s = assemble(post, f"{INTERNAL_PREFIX}b", built.parts) if built.slope_idx else None
    return centring_means(f, built.around[f.name], icpt, b_s, design, built.slope_idx, np)


def _collapsed_draws(post, design: Design, built: BuiltModel, seed) -> dict[str, np.ndarray]:
    """Exact conditional draws of the integrated-out group effects, by factor."""
    from .collapsed import NestedStats, draw_group_effects, draw_nested_effects, nested_chain

    if not isinstance(built.collapsed, NestedStats):
        return {design.factors[0].name: draw_group_effects(post, design, built, built.collapsed, seed)}
    chain = nested_chain(design)
    icpt = np.asarray(post[f"{INTERNAL_PREFIX}Intercept_c"]) if design.has_intercept else None
    if design.has_intercept:
        cols = [icpt[..., None]]
        if built.slope_idx:
            cols.append(assemble(post, f"{INTERNAL_PREFIX}b", built.parts))
        theta = np.concatenate(cols, axis=-1)
    else:
        theta = assemble(post, "b", built.parts)
    shape = theta.shape[:-1]
    flat = int(np.prod(shape))
    hypers = []
    for f in chain:
        sd = assemble(post, f"sd_{f.name}", built.parts).reshape(flat, -1)
        rho = None
        if len(f.coefs) == 2:
            rho = (
                2.0 * np.asarray(post[f"{INTERNAL_PREFIX}cpc_{f.name}"])[..., 0].reshape(flat) - 1.0
                if f.cor_pairs()
                else np.zeros(flat)
            )
        hypers.append((sd, rho))
    sigma = np.asarray(post["sigma"]).reshape(flat)
    draws = draw_nested_effects(theta.reshape(flat, -1), hypers, sigma, built.collapsed, seed)
    return {f.name: r.reshape(shape + r.shape[1:]) for f, r in zip(chain, draws, strict=True)}


def _rows_draws(out: dict, design: Design, rows, sd, L, seed) -> np.ndarray:
    """Draws of the factor integrated out given the other factors (crossed models)."""
    shape = out["sigma"][1].shape
    S = int(np.prod(shape))
    b = out["b"][1].reshape(S, -1) if "b" in out else None
    u = np.concatenate([out[f"r_{name}"][1].reshape(S, -1) for name in rows.others], axis=-1)
    Sigma = covariance_matrix(sd.reshape(S, -1), None if L is None else L.reshape(S, *L.shape[-2:]), np)
    draws = rows.draw(b, u, Sigma, out["sigma"][1].reshape(S), seed)
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
        icpt = np.asarray(post[f"{INTERNAL_PREFIX}Intercept_c"])
        cols = [None] * len(design.terms)
        if built.slope_idx:
            b_s = assemble(post, f"{INTERNAL_PREFIX}b", p)
            cols[design.terms.index("Intercept")] = icpt - b_s @ built.xbar
            for t, j in enumerate(built.slope_idx):
                cols[j] = b_s[..., t]
        else:
            cols[0] = icpt
        out["b"] = (sample + ("term",), np.stack(cols, axis=-1))
    elif design.terms:
        out["b"] = (sample + ("term",), assemble(post, "b", p))
    for f in design.factors:
        name = f.name
        sd = assemble(post, f"sd_{name}", p)
        out[f"sd_{name}"] = (sample + (f"{name}__coef",), sd)
        L = None
        pairs = f.cor_pairs()
        if pairs:
            u = np.asarray(post[f"{INTERNAL_PREFIX}cpc_{name}"])
            L = cholesky_from_cpc(2.0 * u - 1.0, f, np)
            out[f"cor_{name}"] = (sample + (f"{name}__cor",), correlations(L, pairs, np))
        if rows is not None and name == rows.factor:
            deferred = (f, sd, L)  # drawn given the other factors' effects, below
            continue
        if name in collapsed_r:
            r = collapsed_r[name]
        elif built.around.get(name):
            r = np.asarray(post[f"{INTERNAL_PREFIX}m_{name}"]) - _means_draws(post, design, built, f)
        elif built.centered[name]:
            r = np.asarray(post[f"r_{name}"])
        else:
            r = group_effects(np.asarray(post[f"{INTERNAL_PREFIX}z_{name}"]), L, sd, np)
        out[f"r_{name}"] = (sample + (f.dim, f"{name}__coef"), r)
    if "sigma" in post or "sigma" in p:
        out["sigma"] = (sample, np.asarray(post["sigma"]))
    if rows is not None:
        f, sd, L = deferred
        out[f"r_{f.name}"] = (
            sample + (f.dim, f"{f.name}__coef"),
            _rows_draws(out, design, rows, sd, L, seed),
        )
    used = {d for dims, _ in out.values() for d in dims}
    return xr.Dataset(out, coords={k: v for k, v in coords.items() if k in used}, attrs=dict(post.attrs))
