"""Plots of a fit.  Each returns a matplotlib ``Figure``.

The numbers come from :mod:`bayesmix.results` (or ArviZ's own plot-data
computation for ``trace`` and ``forest``); this module only draws them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayesmix.errors import argument_error

__all__ = ["plot", "caterpillar_data", "KINDS"]

KINDS = ("trace", "forest", "ranef", "coef")


def _hyper_vars(fit) -> list[str]:
    names = ["b"] + [f"{p}_{f.name}" for f in fit.design.factors for p in ("sd", "cor")] + ["sigma"]
    return [n for n in names if n in fit.posterior]


def _figure(pc):
    return pc.viz["figure"].item()


def caterpillar_data(fit, which: str = "ranef", factor: str | None = None) -> pd.DataFrame:
    """The table a caterpillar plot draws: per level and coefficient, mean and 95% interval, sorted."""
    table = fit.ranef(factor) if which == "ranef" else fit.coef(factor)
    if factor is None:
        table = table.loc[fit.design.factors[0].name]
    return table.reset_index()


def forest_data(fit) -> list[tuple[str, pd.DataFrame]]:
    """Panels of the forest plot: (title, rows with mean and 95% interval), one scale per panel."""
    table = fit.summary()
    panels = []
    b = table[table["class"] == "b"]
    if "b_Intercept" in b.index:
        panels.append(("Intercept", b.loc[["b_Intercept"]]))
        b = b.drop(index="b_Intercept")
    if len(b):
        panels.append(("population effects", b))
    for cls, title in (("sd", "group-level SDs"), ("cor", "correlations"), ("sigma", "residual SD")):
        sub = table[table["class"] == cls]
        if len(sub):
            panels.append((title, sub))
    return panels


def _forest(panels):
    import matplotlib.pyplot as plt

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


def plot(fit, kind: str = "trace", factor: str | None = None, **kwargs):
    """Draw one plot of ``fit``.

    Parameters
    ----------
    fit : Fit
    kind : {"trace", "forest", "ranef", "coef"}
        ``trace``: draws and densities of population effects, SDs, correlations and
        sigma; ``forest``: their intervals; ``ranef``/``coef``: caterpillar plot of
        the group deviations / per-level coefficients of one factor.
    factor : str, optional
        For ``ranef``/``coef``: the factor (default: the first).
    **kwargs
        Passed to arviz-plots for ``trace`` and ``forest``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if kind not in KINDS:
        raise argument_error("kind", kind, f"one of {KINDS}")
    if kind == "trace":
        import arviz_plots as azp

        pc = azp.plot_trace_dist(fit.idata, var_names=_hyper_vars(fit), backend="matplotlib", **kwargs)
        return _figure(pc)
    if kind == "forest":
        return _forest(forest_data(fit))
    if not fit.design.factors:
        raise argument_error("kind", kind, "'trace' or 'forest': this model has no grouping factor")
    fname = factor or fit.design.factors[0].name
    data = caterpillar_data(fit, kind, fname)
    return _caterpillar(data, fname, kind)


def _caterpillar(data: pd.DataFrame, factor: str, kind: str):
    import matplotlib.pyplot as plt

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
