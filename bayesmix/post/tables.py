"""Tables from posterior draws: summary, fixef, ranef, coef, level2, varcorr.

Functions here take the posterior ``xarray.Dataset`` (and the design) and
return pandas DataFrames; :class:`bayesmix.Fit` wraps them and :mod:`bayesmix.post.report`
renders them as text.  Parameter labels
follow brms: ``b_Days``, ``sd_Subject__Days``, ``cor_Subject__Intercept__Days``,
``sigma``, ``r_Subject[308,Days]``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from bayesmix.core import names
from bayesmix.core.predictor import coefficients
from bayesmix.inference.diagnostics import ess_tail, quantiles, rhat_and_ess_bulk
from bayesmix.spec.design import Design

__all__ = ["parameter_table", "fixef", "ranef", "coef", "level2", "varcorr", "STAT_COLUMNS"]

STAT_COLUMNS = ["mean", "sd", "q2.5", "q97.5", "rhat", "ess_bulk", "ess_tail"]


def _stats(draws: np.ndarray, prob: float = 0.95, diagnostics: bool = True) -> dict[str, np.ndarray]:
    """Per-parameter statistics of draws shaped ``(chain, draw, n)``."""
    flat = draws.reshape(-1, draws.shape[-1])
    lo, hi = (1 - prob) / 2, 1 - (1 - prob) / 2
    q_lo, q_hi = quantiles(draws, [lo, hi])
    out = {
        "mean": flat.mean(axis=0),
        "sd": flat.std(axis=0, ddof=1),
        f"q{100 * lo:g}": q_lo,
        f"q{100 * hi:g}": q_hi,
    }
    if diagnostics:
        # arviz_stats's estimators computed for all parameters at once (equal to 1e-10; see
        # bayesmix.diagnostics): thousands of group effects take a second, not minutes
        out["rhat"], out["ess_bulk"] = rhat_and_ess_bulk(draws)
        out["ess_tail"] = ess_tail(draws, prob=0.1)
    return out


def _flat(post: xr.Dataset, var: str) -> tuple[np.ndarray, list[tuple]]:
    """Draws of ``var`` as ``(chain, draw, n)`` with the coordinate tuple of each column."""
    da = post[var]
    extra = [d for d in da.dims if d not in ("chain", "draw")]
    arr = da.transpose("chain", "draw", *extra).values
    arr = arr.reshape(arr.shape[0], arr.shape[1], -1)
    labels = [()]
    for d in extra:
        labels = [(*lab, str(c)) for lab in labels for c in da[d].values]
    return arr, labels


def _cor_pairs(f) -> dict[str, tuple[str, str]]:
    """A factor's correlation coordinates mapped to their coefficient pairs."""
    return {names.cor_coord(f.coefs[i], f.coefs[j]): (f.coefs[i], f.coefs[j]) for i, j in f.cor_pairs()}


def parameter_table(
    post: xr.Dataset, design: Design, prob: float = 0.95, ranef: bool = False, transform=None
) -> pd.DataFrame:
    """Statistics of every reported parameter, labelled as brms labels them.

    Parameters
    ----------
    post : xarray.Dataset
        Posterior draws.
    design : Design
    prob : float
        Mass of the central interval.
    ranef : bool
        Include the group effects ``r_<factor>[level,coef]``.
    transform : callable, optional
        Applied to population effects' draws before summarising (e.g. ``np.exp``).
    """
    blocks = []

    def add(var: str, cls: str, group: str, label_fn, fn=None):
        if var not in post:
            return
        arr, labels = _flat(post, var)
        if fn is not None:
            arr = fn(arr)
        blocks.append((arr, [label_fn(lab) for lab in labels], cls, group))

    add(names.B, "b", "", lambda lab: names.b_label(lab[0]), transform)
    for f in design.factors:
        add(names.sd_var(f.name), "sd", f.name, lambda lab, f=f: names.sd_label(f.name, lab[0]))
        pairs = _cor_pairs(f)
        add(
            names.cor_var(f.name),
            "cor",
            f.name,
            lambda lab, f=f, p=pairs: names.cor_label(f.name, *p[lab[0]]),
        )
    add(names.CUTPOINTS, "Intercept", "", lambda lab: f"{names.CUTPOINTS}[{lab[0]}]")
    for aux in names.AUX_SCALARS:
        add(aux, aux, "", lambda lab, aux=aux: aux)
    if ranef:
        for f in design.factors:
            add(names.r_var(f.name), "r", f.name, lambda lab, f=f: names.r_label(f.name, lab[0], lab[1]))
    frames = []
    for arr, labels, cls, group in blocks:
        st = _stats(arr, prob)
        df = pd.DataFrame(st, index=labels)
        df.insert(0, "group", group)
        df.insert(0, "class", cls)
        frames.append(df)
    out = pd.concat(frames) if frames else pd.DataFrame()
    out.index.name = "parameter"
    return out


def _draw_table(arr: np.ndarray, index, prob: float) -> pd.DataFrame:
    st = _stats(arr, prob, diagnostics=False)
    return pd.DataFrame(st, index=index)


def fixef(post: xr.Dataset, design: Design, prob: float = 0.95) -> pd.DataFrame:
    """Population-level effects: one row per term."""
    arr, labels = _flat(post, names.B)
    out = _draw_table(arr, pd.Index([lab[0] for lab in labels], name="term"), prob)
    return out


def ranef(post: xr.Dataset, design: Design, factor: str | None = None, prob: float = 0.95) -> pd.DataFrame:
    """Group-level deviations from the population effects, per level and coefficient.

    Returns a long DataFrame indexed by (factor, level, coef); with ``factor``
    given, indexed by (level, coef).
    """
    factors = [design.factor(factor)] if factor is not None else list(design.factors)
    frames = []
    for f in factors:
        arr, labels = _flat(post, names.r_var(f.name))
        idx = pd.MultiIndex.from_tuples([(f.name, *lab) for lab in labels], names=["factor", "level", "coef"])
        frames.append(_draw_table(arr, idx, prob))
    out = pd.concat(frames)
    return out.droplevel("factor") if factor is not None else out


def coef(post: xr.Dataset, design: Design, factor: str | None = None, prob: float = 0.95) -> pd.DataFrame:
    """Per-level coefficients, population effect + group deviation, draw by draw (lme4's ``coef``).

    Every population term appears for every level (its deviation is 0 where it
    does not vary by the factor); a varying coefficient without a population
    term is the deviation alone; a coefficient with level-two predictors adds its
    level-two prediction (:func:`bayesmix.core.predictor.coefficients`).
    """
    factors = [design.factor(factor)] if factor is not None else list(design.factors)
    frames = []
    for f in factors:
        total, cols = coefficients(post, design, f)
        idx = pd.MultiIndex.from_tuples(
            [(f.name, lev, n) for lev in f.levels for n in cols], names=["factor", "level", "coef"]
        )
        frames.append(_draw_table(total.reshape(total.shape[0], total.shape[1], -1), idx, prob))
    out = pd.concat(frames)
    return out.droplevel("factor") if factor is not None else out


def level2(post: xr.Dataset, design: Design, prob: float = 0.95) -> pd.DataFrame:
    """Level-two coefficients per factor and varying coefficient (g00, g01, g10, g11...).

    Indexed by (factor, coef, predictor): ``predictor`` ``Intercept`` is the
    coefficient's level-two intercept (its population effect), the others the
    group-level predictors; column ``gamma`` gives the equation label
    ``g<coefficient index><predictor index>``.
    """
    b = post[names.B].transpose("chain", "draw", names.TERM).values
    rows, cols = [], []
    for f in design.factors:
        l2 = [t for t in design.level2 if t.factor == f.name]
        if not l2:
            continue
        for ci, coef in enumerate(f.coefs):
            preds = [t for t in l2 if t.coef == coef]
            if not preds and coef not in design.terms:
                continue
            has_own = coef in design.terms
            entries = ([("Intercept", coef)] if has_own else []) + [(t.predictor, t.term) for t in preds]
            # predictor indexes count from 1 (g01, g02, ...); 0 is the level-two intercept, also
            # when it is absent (an ordinal model's cutpoints stand for it)
            for pi, (pred, term) in enumerate(entries, start=0 if has_own else 1):
                rows.append((f.name, coef, pred, f"g{ci}{pi}", term))
                cols.append(b[..., design.terms.index(term)])
    if not rows:
        return pd.DataFrame(columns=["gamma", "term", "mean", "sd"])
    arr = np.stack(cols, axis=-1)
    idx = pd.MultiIndex.from_tuples([r[:3] for r in rows], names=["factor", "coef", "predictor"])
    out = _draw_table(arr, idx, prob)
    out.insert(0, "term", [r[4] for r in rows])
    out.insert(0, "gamma", [r[3] for r in rows])
    return out


def varcorr(post: xr.Dataset, design: Design, prob: float = 0.95) -> pd.DataFrame:
    """Group-level SDs and correlations and the residual SD, lme4's ``VarCorr`` with intervals.

    Indexed by (group, var1, var2): ``var2`` is empty for SDs and names the
    second coefficient for correlations.
    """
    frames = []
    for f in design.factors:
        arr, labels = _flat(post, names.sd_var(f.name))
        idx = pd.MultiIndex.from_tuples(
            [(f.name, lab[0], "") for lab in labels], names=["group", "var1", "var2"]
        )
        frames.append(_draw_table(arr, idx, prob))
        if names.cor_var(f.name) in post:
            arr, labels = _flat(post, names.cor_var(f.name))
            idx = pd.MultiIndex.from_tuples(
                [(f.name, *_cor_pairs(f)[lab[0]]) for lab in labels], names=["group", "var1", "var2"]
            )
            frames.append(_draw_table(arr, idx, prob))
    if names.SIGMA in post:
        arr = post[names.SIGMA].transpose("chain", "draw").values[..., None]
        idx = pd.MultiIndex.from_tuples([("Residual", "sigma", "")], names=["group", "var1", "var2"])
        frames.append(_draw_table(arr, idx, prob))
    return pd.concat(frames)
