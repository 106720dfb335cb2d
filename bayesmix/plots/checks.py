"""Conditional-effects and posterior predictive check plots.

:func:`plot_conditional_effects` draws a table of
:func:`bayesmix.post.effects.conditional_effects`; :func:`plot_ppc` draws a DataTree
with ``posterior_predictive`` and ``observed_data`` groups through arviz-plots.
"""

from __future__ import annotations

import arviz_plots as azp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

__all__ = ["plot_conditional_effects", "plot_ppc"]

#: groups drawn in colour with a legend; more are drawn as thin grey lines
_MAX_COLOURED = 10


def plot_conditional_effects(table: pd.DataFrame, response: str | None = None):
    """Prediction against one predictor, population level with its interval, and per group.

    Parameters
    ----------
    table : pandas.DataFrame
        From ``fit.conditional_effects(...)``.
    response : str, optional
        Label of the y axis (default: what the table's kind is).
    """
    effect, numeric, kind = table.attrs["effect"], table.attrs["numeric"], table.attrs["kind"]
    prob = table.attrs.get("prob", 0.95)
    pop = table[table["group"] == "population"]
    groups = [g for g in dict.fromkeys(table["group"]) if g != "population"]
    fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
    coloured = len(groups) <= _MAX_COLOURED
    if numeric:
        for i, g in enumerate(groups):
            sub = table[table["group"] == g]
            if coloured:
                ax.plot(sub["effect"], sub["mean"], color=f"C{(i + 1) % 10}", lw=1.2, label=str(g))
            else:
                ax.plot(
                    sub["effect"],
                    sub["mean"],
                    color="0.6",
                    lw=0.6,
                    alpha=0.7,
                    label=f"each of {len(groups)} groups" if i == 0 else None,
                )
        ax.fill_between(
            pop["effect"],
            pop["lower"],
            pop["upper"],
            color="k",
            alpha=0.15,
            label=f"population {prob:.0%} interval",
        )
        ax.plot(pop["effect"], pop["mean"], color="k", lw=2, label="population (group effects at 0)")
    else:
        cats = list(dict.fromkeys(pop["effect"]))
        x = np.arange(len(cats))
        width = 0.6 / max(1, len(groups) + 1)
        series = [("population", pop, "k")] + [
            (g, table[table["group"] == g], f"C{(i + 1) % 10}") for i, g in enumerate(groups)
        ]
        for s, (g, sub, colour) in enumerate(series):
            sub = sub.set_index("effect").loc[cats]
            xs = x + (s - (len(series) - 1) / 2) * width
            ax.errorbar(
                xs,
                sub["mean"],
                yerr=[sub["mean"] - sub["lower"], sub["upper"] - sub["mean"]],
                fmt="o",
                color=colour,
                ms=5 if g == "population" else 3.5,
                capsize=3,
                label=("population" if g == "population" else str(g)) if coloured or s == 0 else None,
            )
        ax.set_xticks(x, [str(c) for c in cats])
    ax.set_xlabel(effect)
    what = {"mean": "expected response", "link": "linear predictor"}[kind]
    ax.set_ylabel(response or what)
    factor = table.attrs.get("factor")
    ax.set_title(
        f"Conditional effect of {effect}" + (f", overall and by {factor}" if factor else ""), fontsize=10
    )
    fig.supxlabel("other predictors at their mean (numeric) or first category", fontsize=7, color="0.4")
    ax.legend(fontsize=7, loc="best")
    return fig


def plot_ppc(idata, num_samples: int = 50, response: str | None = None, **kwargs):
    """Observed response against draws of the posterior predictive distribution (arviz-plots).

    Parameters
    ----------
    idata : xarray.DataTree
        With ``posterior_predictive`` and ``observed_data`` groups (``fit.add_posterior_predictive()``).
    num_samples : int
        Predictive draws overlaid.
    response : str, optional
        Label of the x axis (the response's name).
    **kwargs
        Passed to ``arviz_plots.plot_ppc_dist``.
    """
    pc = azp.plot_ppc_dist(idata, num_samples=num_samples, backend="matplotlib", **kwargs)
    fig = pc.viz["figure"].item()
    fig.set_size_inches(7.0, 4.2)
    for ax in fig.axes:
        ax.set_title("")
        ax.set_xlabel(response or "response")
    handles = [plt.Line2D([], [], color="C0", alpha=0.5), plt.Line2D([], [], color="k")]
    fig.legend(
        handles, [f"{num_samples} posterior predictive draws", "observed"], loc="upper right", fontsize=8
    )
    fig.suptitle("Posterior predictive check", fontsize=10)
    return fig
