"""Pictures of partial pooling, drawn from a shrinkage table (:func:`bayesmix.post.shrinkage.shrinkage`).

* :func:`plot_shrinkage` -- per group an arrow from its own (no-pooling) estimate to its
  partial-pooling estimate, against group size: small groups travel furthest.
* :func:`plot_shrinkage_2d` -- the same for two coefficients at once (intercept and
  slope), with the fitted population distribution as 50% and 95% ellipses.
* :func:`plot_group_lines` -- lme4's classic per-group panels: the data, the group's own
  regression line, the partial-pooling line and the complete-pooling line.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Ellipse
from scipy import stats

from bayesmix.errors import argument_error

__all__ = ["plot_shrinkage", "plot_shrinkage_2d", "plot_group_lines"]

_OWN = {"marker": "o", "mfc": "white", "mec": "C1", "ms": 5, "ls": "none"}
_PARTIAL = {"marker": "o", "color": "C0", "ms": 5, "ls": "none"}


def _one_factor(table: pd.DataFrame, factor: str | None) -> tuple[str, pd.DataFrame]:
    factors = list(dict.fromkeys(table.index.get_level_values("factor")))
    if factor is None:
        factor = factors[0]
    if factor not in factors:
        raise argument_error("factor", factor, f"one of {factors}")
    return factor, table.xs(factor, level="factor")


def _spread(n: np.ndarray, log: bool) -> np.ndarray:
    """Group sizes with ties spread side by side, so equal-sized groups do not overlap."""
    x = np.asarray(n, float).copy()
    for value in np.unique(x):
        at = np.flatnonzero(x == value)
        if len(at) > 1:
            offsets = np.linspace(-0.25, 0.25, len(at))
            x[at] = value * np.exp(offsets * 0.6) if log else value + offsets * max(1.0, 0.15 * value)
    return x


def plot_shrinkage(table: pd.DataFrame, factor: str | None = None, coefs: list[str] | None = None):
    """Arrows from each group's own estimate to its partial-pooling estimate, against group size.

    Parameters
    ----------
    table : pandas.DataFrame
        A shrinkage table (``fit.shrinkage().table``).
    factor : str, optional
        Default: the table's first factor.
    coefs : list of str, optional
        Coefficients to draw, a panel each (default: all of the factor's).
    """
    factor, tab = _one_factor(table, factor)
    all_coefs = list(dict.fromkeys(tab.index.get_level_values("coef")))
    coefs = coefs or all_coefs
    for c in coefs:
        if c not in all_coefs:
            raise argument_error("coefs", c, f"coefficients of {factor!r}: {all_coefs}")
    fig, axes = plt.subplots(
        1, len(coefs), figsize=(max(6.4, 5.2 * len(coefs)), 4.4), squeeze=False, layout="constrained"
    )
    for ax, c in zip(axes[0], coefs, strict=True):
        sub = tab.xs(c, level="coef")
        n = sub["n"].to_numpy()
        own, part = sub["no_pooling"].to_numpy(), sub["partial_pooling"].to_numpy()
        equal = np.ptp(n) == 0
        log = not equal and n.max() / max(n.min(), 1) > 8
        # equal-sized groups: side by side in the order of their own estimates
        x = (
            np.argsort(np.argsort(np.where(np.isfinite(own), own, part))).astype(float)
            if equal
            else _spread(n, log)
        )
        ok = np.isfinite(own)
        for xi, a, b in zip(x[ok], own[ok], part[ok], strict=True):
            ax.annotate(
                "", xy=(xi, b), xytext=(xi, a), arrowprops={"arrowstyle": "->", "color": "0.55", "lw": 0.8}
            )
        ax.plot(x[ok], own[ok], label="no pooling (group alone)", **_OWN)
        ax.plot(x, part, label="partial pooling (posterior mean)", **_PARTIAL)
        if (~ok).any():
            ax.plot(x[~ok], part[~ok], "x", color="C3", ms=6, label="no own estimate")
        pop = sub["population"].to_numpy()
        if np.ptp(pop) < 1e-9 * max(1.0, abs(pop[0])):
            ax.axhline(pop[0], color="0.3", ls="--", lw=1, label="population value")
        else:
            ax.plot(x, pop, "_", color="0.3", ms=9, label="level-two prediction")
        if log:
            ax.set_xscale("log")
        if equal:
            ax.set_xticks([])
            ax.set_xlabel(f"groups, sorted by their own estimate (each has {int(n[0])} rows)")
        else:
            ax.set_xlabel("rows in the group" + (" (log scale)" if log else ""))
        ax.set_ylabel(c)
        ax.set_title(c, fontsize=10)
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(f"{factor}: shrinkage of each group's estimate towards the population", fontsize=11)
    return fig


def plot_shrinkage_2d(
    table: pd.DataFrame,
    mean: np.ndarray,
    cov: np.ndarray,
    coef_names: list[str],
    factor: str | None = None,
    coefs: tuple[str, str] | None = None,
):
    """Two coefficients per group: own estimate -> partial-pooling estimate, with the population ellipses.

    Parameters
    ----------
    table : pandas.DataFrame
        A shrinkage table.
    mean, cov, coef_names
        The fitted group distribution (:func:`bayesmix.post.shrinkage.group_distribution`).
    factor : str, optional
        Default: the table's first factor.
    coefs : (str, str), optional
        The two coefficients (default: the factor's first two).
    """
    factor, tab = _one_factor(table, factor)
    coefs = tuple(coefs or coef_names[:2])
    if len(coefs) != 2 or any(c not in coef_names for c in coefs):
        raise argument_error("coefs", coefs, f"two varying coefficients of {factor!r}: {coef_names}")
    i, j = (coef_names.index(c) for c in coefs)
    wide = {c: tab.xs(c, level="coef") for c in coefs}
    own = np.column_stack([wide[c]["no_pooling"].to_numpy() for c in coefs])
    part = np.column_stack([wide[c]["partial_pooling"].to_numpy() for c in coefs])
    fig, ax = plt.subplots(figsize=(6.4, 5.4), layout="constrained")
    S = cov[np.ix_([i, j], [i, j])]
    vals, vecs = np.linalg.eigh(S)
    angle = math.degrees(math.atan2(vecs[1, 1], vecs[0, 1]))
    center = mean[[i, j]]
    for level, ls in ((0.5, ":"), (0.95, "--")):
        r = math.sqrt(stats.chi2.ppf(level, 2))
        w, h = 2 * r * math.sqrt(max(vals[1], 0)), 2 * r * math.sqrt(max(vals[0], 0))
        ax.add_patch(
            Ellipse(center, w, h, angle=angle, fill=False, ls=ls, color="0.3", label=f"{level:.0%} of groups")
        )
    ok = np.all(np.isfinite(own), axis=1)
    for a, b in zip(own[ok], part[ok], strict=True):
        ax.annotate("", xy=b, xytext=a, arrowprops={"arrowstyle": "->", "color": "0.55", "lw": 0.8})
    ax.plot(own[ok, 0], own[ok, 1], label="no pooling (group alone)", **_OWN)
    ax.plot(part[:, 0], part[:, 1], label="partial pooling (posterior mean)", **_PARTIAL)
    ax.plot(*center, "P", color="k", ms=9, label="population mean")
    pts = np.vstack([own[ok], part])
    ax.update_datalim(pts)
    ax.autoscale_view()
    ax.set_xlabel(coefs[0])
    ax.set_ylabel(coefs[1])
    ax.legend(fontsize=8, loc="best")
    ax.set_title(
        f"{factor}: each group's ({coefs[0]}, {coefs[1]}) pulled towards the population", fontsize=10
    )
    return fig


def plot_group_lines(
    data: pd.DataFrame, table: pd.DataFrame, x: str, y: str, factor: str | None = None, ncols: int = 6
):
    """Per-group panels: data, the group's own line, the partial-pooling and complete-pooling lines.

    Parameters
    ----------
    data : pandas.DataFrame
        The fitted rows (``fit.model.data``), with columns ``x``, ``y`` and the factor's.
    table : pandas.DataFrame
        A shrinkage table of a factor with coefficients ``Intercept`` and ``x``.
    x, y : str
        Predictor and response columns.
    factor : str, optional
        Default: the table's first factor (its grouping column must be in ``data``).
    ncols : int
        Panels per row.
    """
    factor, tab = _one_factor(table, factor)
    coefs = list(dict.fromkeys(tab.index.get_level_values("coef")))
    if "Intercept" not in coefs or x not in coefs:
        raise argument_error("x", x, f"a varying slope of {factor!r} beside its Intercept (it has {coefs})")
    for col in (x, y, factor):
        if col not in data.columns:
            raise argument_error("data", col, f"a frame with column {col!r}")
    levels = list(dict.fromkeys(tab.index.get_level_values("level")))
    nrows = math.ceil(len(levels) / ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(2.2 * ncols + 0.6, 2.0 * nrows + 0.9),
        sharex=True,
        sharey=True,
        squeeze=False,
        layout="constrained",
    )
    grid = np.linspace(float(data[x].min()), float(data[x].max()), 2)
    labels = data[factor].astype(str)
    for k, ax in enumerate(axes.ravel()):
        if k >= len(levels):
            ax.set_visible(False)
            continue
        level = levels[k]
        rows = data[labels == str(level)]
        ax.plot(rows[x], rows[y], ".", color="0.35", ms=4, label="data")
        for col, style, label in (
            ("no_pooling", {"color": "C1", "ls": "--"}, "no pooling"),
            ("partial_pooling", {"color": "C0", "ls": "-"}, "partial pooling"),
            ("complete_pooling", {"color": "0.5", "ls": ":"}, "complete pooling"),
        ):
            a, b = tab.loc[(level, "Intercept"), col], tab.loc[(level, x), col]
            if np.isfinite(a) and np.isfinite(b):
                ax.plot(grid, a + b * grid, lw=1.3, label=label, **style)
        ax.set_title(str(level), fontsize=8, pad=2)
        ax.tick_params(labelsize=7)
    handles, names_ = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names_, loc="outside right upper", fontsize=8)
    fig.supxlabel(x, fontsize=9)
    fig.supylabel(y, fontsize=9)
    fig.suptitle(f"{y} by {x}, one panel per {factor}", fontsize=10)
    return fig
