"""Plots of the posterior: trace, forest and caterpillar.

The numbers come from :mod:`bayesmix.post.tables` (``summary()``, ``ranef()``,
``coef()``) or from the posterior DataTree (trace plots through arviz-plots); this
module computes nothing but layout, so a figure can be drawn from a loaded file or
from tables a user filtered.
"""

from __future__ import annotations

import arviz_plots as azp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from bayesmix.core import names
from bayesmix.errors import argument_error

__all__ = ["trace_vars", "plot_trace", "plot_forest", "plot_caterpillar", "forest_panels"]


def trace_vars(idata) -> list[str]:
    """The posterior's population and hyperparameters (``b``, ``sd_*``, ``cor_*``, ``sigma``)."""
    post = idata["posterior"]
    keep = []
    for v in post.data_vars:
        v = str(v)
        if v in (names.B, names.CUTPOINTS, *names.AUX_SCALARS) or v.startswith(("sd_", "cor_")):
            keep.append(v)
    return keep


def plot_trace(idata, var_names: list[str] | None = None, **kwargs):
    """Draws and densities per chain (arviz-plots' ``plot_trace_dist``) of a posterior DataTree.

    One row per parameter (``b[Intercept]`` and ``b[Days]`` apart, each on its own scale),
    chains told apart by colour with a legend.

    Parameters
    ----------
    idata : xarray.DataTree
        A fit's ``idata`` (also a loaded one).
    var_names : list of str, optional
        Default: :func:`trace_vars`.
    **kwargs
        Passed to ``arviz_plots.plot_trace_dist``.
    """
    kwargs.setdefault("compact", False)
    pc = azp.plot_trace_dist(idata, var_names=var_names or trace_vars(idata), backend="matplotlib", **kwargs)
    fig = pc.viz["figure"].item()
    axes = fig.axes
    if axes:
        n = idata["posterior"].sizes["chain"]
        handles = [plt.Line2D([], [], color=f"C{i}") for i in range(n)]
        fig.legend(handles, [f"chain {i}" for i in range(n)], loc="upper center", ncols=min(n, 8), fontsize=8)
    return fig


def forest_panels(table: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Panels of the forest plot from a ``summary()`` table: (title, rows), one scale per panel."""
    panels = []
    b = table[table["class"] == "b"]
    icpt = names.b_label("Intercept")
    if icpt in b.index:
        panels.append(("Intercept", b.loc[[icpt]]))
        b = b.drop(index=icpt)
    if len(b):
        panels.append(("population effects", b))
    titles = (
        ("Intercept", "cutpoints"),
        ("sd", "group-level SDs"),
        ("cor", "correlations"),
        ("sigma", "residual SD"),
        ("nu", "degrees of freedom"),
        ("shape", "shape"),
        ("phi", "precision"),
    )
    for cls, title in titles:
        sub = table[table["class"] == cls]
        if len(sub):
            panels.append((title, sub))
    return panels


def plot_forest(table: pd.DataFrame):
    """Posterior means and 95% intervals of a ``summary()`` table, a panel per parameter class."""
    panels = forest_panels(table)
    heights = [len(df) + 1.2 for _, df in panels]
    fig, axes = plt.subplots(
        len(panels),
        1,
        figsize=(7.5, 0.32 * sum(heights) + 1.0),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
        layout="constrained",
    )
    for ax, (title, df) in zip(axes[:, 0], panels, strict=True):
        y = np.arange(len(df))[::-1]
        ax.hlines(y, df["q2.5"], df["q97.5"], color="C0", lw=1.5)
        ax.plot(df["mean"], y, "o", color="C0", ms=4)
        ax.set_yticks(y, list(df.index), fontsize=8)
        ax.set_ylim(-0.7, len(df) - 0.3)
        ax.set_title(title, fontsize=9, loc="left")
        if title == "correlations":
            ax.axvline(0.0, color="0.5", lw=0.8, ls="--")
    fig.suptitle("posterior mean and 95% interval", fontsize=10)
    return fig


def _varies(sub: pd.DataFrame) -> bool:
    """Whether a coefficient's intervals differ between levels (a population-only column does not)."""
    return bool(np.ptp(sub[["mean", "q2.5", "q97.5"]].to_numpy(), axis=0).max() > 0)


def plot_caterpillar(
    table: pd.DataFrame, factor: str | None = None, kind: str = "ranef", population: dict | None = None
):
    """Caterpillar plot of a ``ranef()`` or ``coef()`` table: levels sorted by their estimate.

    Every panel of a factor shares one order (by the first varying coefficient), so a row
    is one group across panels; coefficients that do not vary by the factor are left out.
    A table of several factors (indexed by factor, level, coef) gives a row of panels per
    factor.

    Parameters
    ----------
    table : pandas.DataFrame
        Indexed by (level, coef) or (factor, level, coef), columns ``mean``, ``q2.5``, ``q97.5``.
    factor : str, optional
        The factor's name, for the title of a one-factor table.
    kind : {"ranef", "coef"}
        Deviations (a dashed line at 0) or per-level coefficients.
    population : dict, optional
        Coefficient -> population value, drawn as a dashed line on ``coef`` panels.
    """
    if kind not in ("ranef", "coef"):
        raise argument_error("kind", kind, "'ranef' or 'coef'")
    if "factor" in (table.index.names or []):
        parts = [
            (f, table.xs(f, level="factor")) for f in dict.fromkeys(table.index.get_level_values("factor"))
        ]
    else:
        parts = [(factor or "", table)]
    panels = []  # (factor, coef, rows in order)
    for fname, tab in parts:
        data = tab.reset_index()
        coefs = [c for c in dict.fromkeys(data["coef"]) if _varies(data[data["coef"] == c])]
        if not coefs:
            continue
        order = data[data["coef"] == coefs[0]].sort_values("mean")["level"].tolist()
        for c in coefs:
            sub = data[data["coef"] == c].set_index("level").loc[order].reset_index()
            panels.append((fname, c, sub))
    if not panels:
        raise argument_error("table", "no varying coefficient", "a ranef()/coef() table of a grouping factor")
    factors = list(dict.fromkeys(p[0] for p in panels))
    ncols = max(sum(1 for p in panels if p[0] == f) for f in factors)
    heights = [max(3.0, 0.18 * len(next(p[2] for p in panels if p[0] == f)) + 1.2) for f in factors]
    fig, axes = plt.subplots(
        len(factors),
        ncols,
        figsize=(3.6 * ncols + 0.8, sum(heights)),
        squeeze=False,
        layout="constrained",
        gridspec_kw={"height_ratios": heights},
    )
    what = "group-level deviations" if kind == "ranef" else "per-level coefficients"
    for r, fname in enumerate(factors):
        mine = [p for p in panels if p[0] == fname]
        for col in range(ncols):
            ax = axes[r, col]
            if col >= len(mine):
                ax.set_visible(False)
                continue
            _, c, sub = mine[col]
            n_levels = len(sub)
            y = np.arange(n_levels)
            ax.hlines(y, sub["q2.5"], sub["q97.5"], color="C0", lw=1.2)
            ax.plot(sub["mean"], y, "o", color="C0", ms=3.5)
            ref = 0.0 if kind == "ranef" else (population or {}).get(c)
            if ref is not None:
                ax.axvline(ref, color="0.4", lw=0.9, ls="--", label="population" if kind == "coef" else None)
            if n_levels > 60:
                ax.set_yticks([])
                ax.set_ylabel(f"{n_levels} levels, sorted")
            else:
                ax.set_yticks(y, sub["level"].astype(str), fontsize=7 if n_levels > 30 else 8)
            ax.set_ylim(-0.8, n_levels - 0.2)
            ax.set_title(f"{fname}: {c}" if len(factors) > 1 else c, fontsize=10)
            ax.set_xlabel("deviation from the population value" if kind == "ranef" else c)
            if kind == "coef" and ref is not None and col == 0:
                ax.legend(fontsize=7, loc="lower right")
    title = f"{factors[0]}: {what}" if len(factors) == 1 and factors[0] else what
    fig.suptitle(f"{title} (posterior mean, 95% interval)", fontsize=11)
    return fig
