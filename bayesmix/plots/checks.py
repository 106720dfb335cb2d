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

__all__ = ["plot_conditional_effects", "plot_ppc", "plot_prior_predictive", "plot_prior_posterior"]

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


def _step_density(ax, values, bins, **style):
    hist, edges = np.histogram(values, bins=bins, density=True)
    ax.stairs(hist, edges, **style)


def plot_prior_predictive(tree, factor: str | None = None, num_samples: int = 50):
    """What the priors imply: the response, the group means and the group SDs, against the data.

    Parameters
    ----------
    tree : xarray.DataTree
        From :meth:`bayesmix.Model.prior_predictive` (``prior``, ``prior_predictive`` and,
        with data, ``observed_data``).
    factor : str, optional
        The factor whose group means and SDs are drawn (default: the first ``r_*``).
    num_samples : int
        Prior predictive draws overlaid in the first panel.
    """
    prior = tree["prior"]
    y = tree["prior_predictive"]["y"].values.reshape(-1, tree["prior_predictive"].sizes["obs"])
    observed = tree["observed_data"]["y"].values if "observed_data" in tree.children else None
    factors = [str(v)[2:] for v in prior.data_vars if str(v).startswith("r_")]
    factor = factor or (factors[0] if factors else None)
    panels = 1 + (2 if factor else 0)
    fig, axes = plt.subplots(1, panels, figsize=(4.6 * panels, 3.8), squeeze=False, layout="constrained")
    ax = axes[0, 0]
    lo, hi = np.quantile(y, [0.005, 0.995])
    if observed is not None:
        lo, hi = min(lo, observed.min()), max(hi, observed.max())
    bins = np.linspace(lo, hi, 40)
    pick = np.random.default_rng(0).choice(len(y), min(num_samples, len(y)), replace=False)
    for i, row in enumerate(y[pick]):
        _step_density(
            ax, row, bins, color="C0", alpha=0.3, lw=0.8, label="prior predictive draws" if i == 0 else None
        )
    if observed is not None:
        _step_density(ax, observed, bins, color="k", lw=1.8, label="observed")
    ax.set_xlabel("response")
    ax.set_yticks([])
    ax.set_title("response implied by the priors", fontsize=10)
    ax.legend(fontsize=7)
    if factor:
        r = prior[f"r_{factor}"]
        coef_dim = f"{factor}__coef"
        coef0 = str(r[coef_dim].values[0])
        effects = r.sel({coef_dim: coef0}).values.reshape(-1, r.shape[2])  # (draws, J)
        base = (
            prior["b"].sel(term=coef0).values.reshape(-1, 1)
            if "b" in prior and coef0 in prior["term"]
            else 0.0
        )
        means = (effects + base).ravel()
        ax = axes[0, 1]
        q = np.quantile(means, [0.005, 0.995])
        _step_density(ax, means, np.linspace(*q, 40), color="C0", lw=1.2)
        ax.set_xlabel(f"{coef0} of a group (population + deviation)")
        ax.set_yticks([])
        ax.set_title(f"{factor}: implied group {coef0.lower()}s", fontsize=10)
        ax = axes[0, 2]
        sd = prior[f"sd_{factor}"]
        for i, c in enumerate(sd[coef_dim].values):
            v = sd.sel({coef_dim: c}).values.ravel()
            v = v[v > 0]
            _step_density(ax, np.log10(v), 40, color=f"C{i}", lw=1.2, label=str(c))
        ax.set_xlabel(f"log10 SD of the {factor} effects")
        ax.set_yticks([])
        ax.set_title(f"{factor}: implied group-level SDs", fontsize=10)
        ax.legend(fontsize=7)
    fig.suptitle("Prior predictive check", fontsize=11)
    return fig


def plot_prior_posterior(idata, var_names: list[str], **kwargs):
    """Prior and posterior densities of chosen parameters (arviz-plots' ``plot_prior_posterior``).

    ``idata`` needs ``prior`` and ``posterior`` groups (``fit.add_prior()``).
    """
    pc = azp.plot_prior_posterior(idata, var_names=var_names, backend="matplotlib", **kwargs)
    fig = pc.viz["figure"].item()
    n = len(fig.axes)
    fig.set_size_inches(min(3.2 * n, 13), 3.4 * (1 + (n - 1) // 4))
    fig.set_layout_engine("constrained")
    return fig
