"""The linear predictor from parameter values: one implementation for the graph, the tables and predictions.

Two pieces:

* :func:`coefficient_mean` -- the population value of a factor's varying coefficient in
  each group: its population effect plus its level-two prediction ``W_j @ gamma``.  The
  graph centres group coefficients on it, :func:`coefficients` (lme4's ``coef``) adds the
  group deviations to it.
* :func:`linear_predictor` -- ``eta = X b + sum_f Z_f r_f[group] + offset`` for every
  posterior draw and row of the fitted data or of new data encoded by
  :meth:`bayesmix.spec.design.Design.encode`, with the group effects of all, none or
  chosen factors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from bayesmix.core import names
from bayesmix.errors import argument_error
from bayesmix.spec.design import Design, FactorDesign, NewData

__all__ = ["coefficient_mean", "coefficients", "linear_predictor", "chosen_factors"]


def coefficient_mean(
    f: FactorDesign,
    coef: str,
    design: Design,
    get_b: Callable[[str], object],
    xp,
    zero,
    population: str | None = None,
    w: dict | None = None,
):
    """Population value of varying coefficient ``coef`` of factor ``f`` in each group, ``(..., J)``.

    Parameters
    ----------
    f : FactorDesign
    coef : str
        One of ``f.coefs``.
    design : Design
        Read for its level-two terms.
    get_b : callable
        ``term -> draws`` of a population coefficient (numpy arrays or graph tensors).
    xp : module
        ``numpy`` or ``pytensor.tensor``.
    zero : array or tensor
        Shaped like one coefficient's draws: the base when there is no population term.
    population : str, optional
        The population term the coefficient is centred on (None: none, only the
        level-two prediction).
    w : dict, optional
        Level-two term -> its group values as a graph input (numpy's by default).
    """
    ones = np.ones(f.n_levels)
    base = xp.zeros_like(zero) if population is None else get_b(population)
    col = base[..., None] * ones
    for t in design.level2:
        if t.factor == f.name and t.coef == coef:
            col = col + get_b(t.term)[..., None] * (np.nan_to_num(t.values) if w is None else w[t.term])
    return col


def coefficients(post, design: Design, f: FactorDesign) -> tuple[np.ndarray, list[str]]:
    """Per-group coefficients, population effect + level-two prediction + deviation (lme4's ``coef``).

    Returns draws ``(chain, draw, J, n)`` and the ``n`` coefficient names: every population
    term not absorbed into a level-two equation, then varying coefficients without a
    population term (their deviation alone).
    """
    b = post[names.B].transpose("chain", "draw", names.TERM).values if names.B in post else None
    r = post[names.r_var(f.name)].transpose("chain", "draw", f.dim, names.coef_dim(f.name)).values
    absorbed = {t.term for t in design.level2 if t.factor == f.name}
    cols = [t for t in design.terms if t not in absorbed] + [c for c in f.coefs if c not in design.terms]
    zero = np.zeros(r.shape[:2])

    def get_b(term):
        return b[..., design.terms.index(term)]

    out = np.zeros(r.shape[:2] + (f.n_levels, len(cols)))
    for j, name in enumerate(cols):
        if name in f.coefs:
            population = name if name in design.terms else None
            out[..., j] = (
                coefficient_mean(f, name, design, get_b, np, zero, population) + r[..., f.coefs.index(name)]
            )
        else:
            out[..., j] = get_b(name)[..., None]
    return out, cols


def chosen_factors(design: Design, groups) -> list[FactorDesign]:
    """The factors whose group effects enter: ``"all"``, ``None`` (population only) or a list of names."""
    if groups is None:
        return []
    if isinstance(groups, str) and groups == "all":
        return list(design.factors)
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, Sequence):
        raise argument_error("groups", groups, "'all', None or a list of factor names")
    return [design.factor(g) for g in groups]


def linear_predictor(
    post, design: Design, new: NewData | None = None, groups="all", chunk: int = 2_000_000
) -> np.ndarray:
    """``eta`` for every posterior draw and row: ``X b + sum_f Z_f r_f[group] + offset``.

    Parameters
    ----------
    post : xarray.Dataset
        Posterior with ``b`` and ``r_<factor>`` (as :attr:`bayesmix.Fit.posterior`).
    design : Design
        The fitted design.
    new : NewData, optional
        New data from :meth:`Design.encode`; default: the fitted rows.
    groups : "all", None or list of str
        Group effects of all factors, of none (lme4's ``re.form = NA``), or of these.
    chunk : int
        Numbers held at once per factor while gathering group effects (memory bound).

    Returns
    -------
    ndarray, shape (chain, draw, N)
    """
    factors = chosen_factors(design, groups)
    if new is None:
        X, offset = design.X, design.offset
        index = {f.name: f.index for f in design.factors}
        Z = {f.name: f.Z for f in design.factors}
    else:
        X, offset, index, Z = new.X, new.offset, new.index, new.Z
    n = X.shape[0]
    C, D = post.sizes["chain"], post.sizes["draw"]
    if names.B in post and X.shape[1]:
        b = post[names.B].transpose("chain", "draw", names.TERM).values
        eta = (b.reshape(C * D, -1) @ np.asarray(X, dtype=float).T).reshape(C, D, n)  # BLAS
    else:
        eta = np.zeros((C, D, n))
    flat_eta = eta.reshape(C * D, n)
    for f in factors:
        idx = index[f.name]
        if np.any(idx < 0):
            raise argument_error(
                "groups", groups, f"factors without unseen levels; {f.name!r} has levels not in the fit"
            )
        r = post[names.r_var(f.name)].transpose("chain", "draw", f.dim, names.coef_dim(f.name)).values
        flat_r = r.reshape(C * D, *r.shape[2:])
        Zf = np.asarray(Z[f.name], dtype=float)
        step = max(1, chunk // max(1, n))
        # one gather per coefficient (k is small): no (draws, rows, k) temporary
        for c in range(flat_r.shape[-1]):
            z = Zf[:, c]
            ones = bool(np.all(z == 1.0))
            for lo in range(0, C * D, step):
                sl = slice(lo, min(C * D, lo + step))
                g = np.take(flat_r[sl, :, c], idx, axis=1)
                if not ones:
                    g *= z
                flat_eta[sl] += g
    if offset is not None:
        eta += offset
    return eta
