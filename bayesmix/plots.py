"""Plots: each draws from a table or a DataTree and returns a matplotlib ``Figure``.

The numbers come from :mod:`bayesmix.post.tables` (``summary()``, ``ranef()``,
``coef()``) or from the posterior DataTree (trace plots through arviz-plots); this
module computes nothing but layout, so a figure can be drawn from a loaded file or
from tables a user filtered.  :meth:`bayesmix.Fit.plot` picks the inputs for each kind.
"""

from __future__ import annotations

import arviz_plots as azp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from bayesmix.core import names
from bayesmix.errors import argument_error

__all__ = ["KINDS", "trace_vars", "plot_trace", "plot_forest", "plot_caterpillar", "forest_panels"]

KINDS = ("trace", "forest", "ranef", "coef")


def trace_vars(idata) -> list[str]:
    """The posterior's population and hyperparameters (``b``, ``sd_*``, ``cor_*``, ``sigma``)."""
    post = idata["posterior"]
    keep = []
    for v in post.data_vars:
        v = str(v)
        if v in (names.B, names.SIGMA) or v.startswith(("sd_", "cor_")):
            keep.append(v)
    return keep


def plot_trace(idata, var_names: list[str] | None = None, **kwargs):
    """Draws and densities per chain (arviz-plots' ``plot_trace_dist``) of a posterior DataTree.

    Parameters
    ----------
    idata : xarray.DataTree
        A fit's ``idata`` (also a loaded one).
    var_names : list of str, optional
        Default: :func:`trace_vars`.
    **kwargs
        Passed to ``arviz_plots.plot_trace_dist``.
    """
    pc = azp.plot_trace_dist(idata, var_names=var_names or trace_vars(idata), backend="matplotlib", **kwargs)
    return pc.viz["figure"].item()


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
    for cls, title in (("sd", "group-level SDs"), ("cor", "correlations"), ("sigma", "residual SD")):
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


def plot_caterpillar(table: pd.DataFrame, factor: str, kind: str = "ranef"):
    """Caterpillar plot of a ``ranef(factor)`` or ``coef(factor)`` table: levels sorted by mean.

    Parameters
    ----------
    table : pandas.DataFrame
        Indexed by (level, coef) with columns ``mean``, ``q2.5``, ``q97.5``.
    factor : str
        Its name, for the title.
    kind : {"ranef", "coef"}
        Deviations (with a line at 0) or per-level coefficients.
    """
    if kind not in ("ranef", "coef"):
        raise argument_error("kind", kind, "'ranef' or 'coef'")
    data = table.reset_index()
    coefs = list(dict.fromkeys(data["coef"]))
    n_levels = data["level"].nunique()
    height = max(3.0, 0.18 * n_levels + 1.2)
    fig, axes = plt.subplots(
        1, len(coefs), figsize=(3.6 * len(coefs) + 0.8, height), squeeze=False, layout="constrained"
    )
    for ax, c in zip(axes[0], coefs, strict=True):
        sub = data[data["coef"] == c].sort_values("mean")
        y = np.arange(len(sub))
        ax.hlines(y, sub["q2.5"], sub["q97.5"], color="C0", lw=1.2)
        ax.plot(sub["mean"], y, "o", color="C0", ms=3.5)
        if kind == "ranef":
            ax.axvline(0.0, color="0.5", lw=0.8, ls="--")
        ax.set_yticks(y, sub["level"].astype(str), fontsize=7 if n_levels > 30 else 8)
        if n_levels > 60:
            ax.set_yticks([])
        ax.set_title(c, fontsize=10)
        ax.set_xlabel("deviation" if kind == "ranef" else "coefficient")
    what = "group-level deviations" if kind == "ranef" else "per-level coefficients"
    fig.suptitle(f"{factor}: {what} (posterior mean, 95% interval)", fontsize=11)
    return fig
