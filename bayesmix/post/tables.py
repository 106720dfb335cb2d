"""Tables from posterior draws: summary, fixef, ranef, coef, varcorr and the printed report.

Functions here take the posterior ``xarray.Dataset`` (and the design) and
return pandas DataFrames; :class:`bayesmix.Fit` wraps them.  Parameter labels
follow brms: ``b_Days``, ``sd_Subject__Days``, ``cor_Subject__Intercept__Days``,
``sigma``, ``r_Subject[308,Days]``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from bayesmix.core.predictor import coefficients
from bayesmix.inference.diagnostics import ess_tail, quantiles, rhat_and_ess_bulk
from bayesmix.spec.design import Design

__all__ = ["parameter_table", "fixef", "ranef", "coef", "level2", "varcorr", "format_report"]

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

    add("b", "b", "", lambda lab: f"b_{lab[0]}", transform)
    for f in design.factors:
        add(f"sd_{f.name}", "sd", f.name, lambda lab, f=f: f"sd_{f.name}__{lab[0]}")
        add(f"cor_{f.name}", "cor", f.name, lambda lab, f=f: f"cor_{f.name}__{lab[0]}")
    add("sigma", "sigma", "", lambda lab: "sigma")
    if ranef:
        for f in design.factors:
            add(f"r_{f.name}", "r", f.name, lambda lab, f=f: f"r_{f.name}[{lab[0]},{lab[1]}]")
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
    arr, labels = _flat(post, "b")
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
        arr, labels = _flat(post, f"r_{f.name}")
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
    b = post["b"].transpose("chain", "draw", "term").values
    rows, cols = [], []
    for f in design.factors:
        l2 = [t for t in design.level2 if t.factor == f.name]
        if not l2:
            continue
        for ci, coef in enumerate(f.coefs):
            preds = [t for t in l2 if t.coef == coef]
            if not preds and coef not in design.terms:
                continue
            entries = ([("Intercept", coef)] if coef in design.terms else []) + [
                (t.predictor, t.term) for t in preds
            ]
            for pi, (pred, term) in enumerate(entries):
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
        arr, labels = _flat(post, f"sd_{f.name}")
        idx = pd.MultiIndex.from_tuples(
            [(f.name, lab[0], "") for lab in labels], names=["group", "var1", "var2"]
        )
        frames.append(_draw_table(arr, idx, prob))
        if f"cor_{f.name}" in post:
            arr, labels = _flat(post, f"cor_{f.name}")
            idx = pd.MultiIndex.from_tuples(
                [(f.name, *lab[0].split("__", 1)) for lab in labels], names=["group", "var1", "var2"]
            )
            frames.append(_draw_table(arr, idx, prob))
    if "sigma" in post:
        arr = post["sigma"].transpose("chain", "draw").values[..., None]
        idx = pd.MultiIndex.from_tuples([("Residual", "sigma", "")], names=["group", "var1", "var2"])
        frames.append(_draw_table(arr, idx, prob))
    return pd.concat(frames)


def _fmt_table(df: pd.DataFrame, labels: list[str]) -> str:
    show = df.copy()
    show.index = labels
    cols = [c for c in show.columns if c not in ("class", "group")]
    show = show[cols]
    rename = {
        "mean": "Estimate",
        "sd": "Est.Error",
        "rhat": "Rhat",
        "ess_bulk": "Bulk_ESS",
        "ess_tail": "Tail_ESS",
    }
    for c in cols:
        if c.startswith("q"):
            rename[c] = f"{c[1:]}%"
    show = show.rename(columns=rename)

    def num(v, col):
        if col == "Rhat":
            return f"{v:.3f}"
        if col.endswith("ESS"):
            return f"{v:.0f}"
        return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.3e}"

    body = show.apply(lambda s: [num(v, s.name) for v in s])
    return body.to_string()


def format_report(table: pd.DataFrame, design: Design, family, settings, extra: dict) -> str:
    """The printed report of a fit, laid out like brms's ``summary``.

    Parameters
    ----------
    table : DataFrame
        From :func:`parameter_table`.
    design, family, settings
        The fit's design, family and sampler settings.
    extra : dict
        ``convergence`` (from :func:`bayesmix.sampling.convergence_report`).
    """
    event = extra.get("event")
    lines = [
        f" Family: {family.name} (link: {family.link})"
        + (f"; event level {event!r} modelled as 1" if event is not None else ""),
        f"Formula: {design.formula.text}",
        f"   Data: {design.n_obs} observations"
        + (f" ({design.n_dropped} rows with missing values dropped)" if design.n_dropped else ""),
        (
            f"  Draws: INTERRUPTED -- {extra['chains']} of {settings.chains} chains x {extra['interrupted']} "
            f"complete draws of "
            f"{settings.draws} asked for, after {settings.tune} tuning "
            if extra.get("interrupted")
            else f"  Draws: {settings.chains} chains x {settings.draws} draws after {settings.tune} tuning "
        )
        + f"(sampler: {settings.sampler}, seed: {settings.seed}"
        + (f"; {extra['collapsed']} integrated out, then drawn exactly)" if extra.get("collapsed") else ")"),
    ]
    if design.factors:
        lines.append("")
        lines.append("Group-level effects:")
        for f in design.factors:
            lines.append(f"~{f.name} (Number of levels: {f.n_levels})")
            sub = table[(table["group"] == f.name) & table["class"].isin(["sd", "cor"])]
            labels = []
            for lab in sub.index:
                if lab.startswith("sd_"):
                    labels.append(f"sd({lab.split('__', 1)[1]})")
                else:
                    a, b = lab.split("__", 1)[1].split("__")
                    labels.append(f"cor({a},{b})")
            lines.append(_fmt_table(sub, labels))
            lines.append("")
    else:
        lines.append("")
    sub = table[table["class"] == "b"]
    if len(sub):
        lines.append("Population-level effects:")
        lines.append(_fmt_table(sub, [lab[2:] for lab in sub.index]))
        lines.append("")
    l2 = extra.get("level2")
    if l2 is not None and len(l2):
        for fname in dict.fromkeys(l2.index.get_level_values("factor")):
            lines.append(f"Level-two coefficients (~{fname}; group SDs above are residual SDs after these):")
            sub2 = l2.loc[fname]
            labels = [
                f"{g} {coef} ~ {pred}" for (coef, pred), g in zip(sub2.index, sub2["gamma"], strict=True)
            ]
            body = sub2.drop(columns=["gamma", "term"])
            lines.append(_fmt_table(body, labels))
            lines.append("")
    sub = table[table["class"] == "sigma"]
    if len(sub):
        lines.append("Family-specific parameters:")
        lines.append(_fmt_table(sub, list(sub.index)))
        lines.append("")
    if family.ratio_name:
        lines.append(
            f"Population effects are on the {family.link} scale; exp(Estimate) is the "
            f"{family.ratio_name} (fit.summary(exponentiate=True))."
        )
    conv = extra.get("convergence")
    if conv:
        status = "ok" if conv["ok"] else "CHECK"
        lines.append(
            f"Diagnostics ({status}): {conv['divergences']} divergences, max R-hat {conv['max_rhat']:.3f}, "
            f"min bulk ESS {conv['min_ess_bulk']:.0f}"
        )
    lines.append("Intervals are central 95% posterior intervals; Rhat and ESS as in Vehtari et al. (2021).")
    return "\n".join(lines)
