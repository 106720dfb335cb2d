"""The brms-style text report of a fit, rendered from its tables.

Numbers come from :mod:`bayesmix.post.tables`; this module only lays them out.
"""

from __future__ import annotations

import pandas as pd

from bayesmix.core import names
from bayesmix.spec.design import Design

__all__ = ["format_report"]


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
        f" Family: {family.describe(extra.get('response_data') or {})}"
        + (f"; event level {event!r} modelled as 1" if event is not None else "")
        + (f"; {extra['weights']}" if extra.get("weights") else ""),
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
            wanted = {names.sd_label(f.name, c): names.report_sd(c) for c in f.coefs}
            wanted |= {
                names.cor_label(f.name, f.coefs[i], f.coefs[j]): names.report_cor(f.coefs[i], f.coefs[j])
                for i, j in f.cor_pairs()
            }
            sub = table.loc[[lab for lab in wanted if lab in table.index]]
            lines.append(_fmt_table(sub, [wanted[lab] for lab in sub.index]))
            lines.append("")
    else:
        lines.append("")
    sub = table[table["class"] == "b"]
    if len(sub):
        lines.append("Population-level effects:")
        by_label = {names.b_label(t): t for t in design.terms}
        lines.append(_fmt_table(sub, [by_label[lab] for lab in sub.index]))
        lines.append("")
    sub = table[table["class"] == "Intercept"]
    if len(sub) and not design.has_intercept:
        lines.append(f"Cutpoints on the {family.link} scale (Stata's /cut k, brms's Intercept[k]):")
        lines.append(_fmt_table(sub, [f"cut{lab.split('[')[1].rstrip(']')}" for lab in sub.index]))
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
    sub = table[table["class"].isin(names.AUX_SCALARS)]
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
    if conv and conv.get("stuck_chains"):
        lines.insert(
            0,
            f"NOT A POSTERIOR: chain(s) {conv['stuck_chains']} are stuck (most draws diverged or did not "
            "move); the estimates below mix them in. Refit (see the ConvergenceWarning).",
        )
    if conv:
        status = "ok" if conv["ok"] else "CHECK"
        lines.append(
            f"Diagnostics ({status}): {conv['divergences']} divergences, max R-hat {conv['max_rhat']:.3f}, "
            f"min bulk ESS {conv['min_ess_bulk']:.0f}"
            + (f", STUCK chains {conv['stuck_chains']}" if conv.get("stuck_chains") else "")
        )
    lines.append("Intervals are central 95% posterior intervals; Rhat and ESS as in Vehtari et al. (2021).")
    return "\n".join(lines)
