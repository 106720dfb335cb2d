"""Plots of simulation studies, drawn from a :class:`~bayesmix.studies.results.StudyResult`.

* :func:`plot_recovery` -- per parameter, every fit's 95% interval sorted by its estimate
  against the true value (intervals that miss it in red), with bias and coverage;
* :func:`plot_power` -- power against a design variable, a line per other setting, with
  Monte Carlo error bars and the 80% line;
* :func:`plot_sbc` -- arviz-plots' ECDF-difference plot of the SBC PIT values.
"""

from __future__ import annotations

import math

import arviz_plots as azp
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from bayesmix.errors import argument_error

__all__ = ["plot_recovery", "plot_power", "plot_sbc"]


def _check(result, kind: str):
    if getattr(result, "kind", None) != kind:
        raise argument_error(
            "result", getattr(result, "kind", type(result).__name__), f"a {kind} study's result"
        )


def plot_recovery(result, parameters: list[str] | None = None, ncols: int = 3):
    """Every fit's 95% interval per parameter, sorted, against the true value."""
    _check(result, "recovery")
    est, summary = result.estimates, result.summary
    labels = parameters or list(summary.index)
    nrows = math.ceil(len(labels) / ncols)
    cols = min(ncols, len(labels))
    fig, axes = plt.subplots(
        nrows, cols, figsize=(4.2 * cols, 3.4 * nrows), squeeze=False, layout="constrained"
    )
    for k, ax in enumerate(axes.ravel()):
        if k >= len(labels):
            ax.set_visible(False)
            continue
        label = labels[k]
        sub = est[est["parameter"] == label].sort_values("mean")
        x = np.arange(len(sub))
        miss = (sub["q2.5"] > sub["true"]) | (sub["true"] > sub["q97.5"])
        ax.vlines(x[~miss], sub["q2.5"][~miss], sub["q97.5"][~miss], color="C0", lw=0.8, label="95% interval")
        ax.vlines(
            x[miss], sub["q2.5"][miss], sub["q97.5"][miss], color="C3", lw=1.0, label="misses the truth"
        )
        ax.plot(x, sub["mean"], ".", color="k", ms=3, label="posterior mean")
        truth = sub["true"].to_numpy()
        if np.ptp(truth) == 0:
            ax.axhline(truth[0], color="C1", lw=1.2, ls="--", label="true value")
        else:
            ax.plot(x, truth, "_", color="C1", label="true value")
        row = summary.loc[label]
        ax.set_title(
            f"{label}\nbias {row['bias']:+.3g}, 95% coverage {row['coverage95']:.0%} (SE {row['coverage95_se']:.0%})",
            fontsize=9,
        )
        ax.set_xticks([])
        ax.set_xlabel(f"{len(sub)} simulated data sets, sorted by estimate", fontsize=8)
        if k == 0:
            ax.legend(fontsize=7, loc="upper left")
    fig.suptitle("Parameter recovery", fontsize=11)
    return fig


def plot_power(result, x: str | None = None):
    """Power against one grid variable (default: the first), a line per combination of the others."""
    _check(result, "power")
    summary = result.summary
    keys = list(result.attrs["grid"])
    x = x or keys[0]
    if x not in keys:
        raise argument_error("x", x, f"a grid variable: {keys}")
    others = [k for k in keys if k != x]
    fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
    groups = summary.groupby(others, sort=False) if others else [((), summary)]
    for i, (key, sub) in enumerate(groups):
        key = key if isinstance(key, tuple) else (key,)
        sub = sub.sort_values(x)
        label = ", ".join(f"{k} = {v}" for k, v in zip(others, key, strict=True)) or None
        ax.errorbar(
            sub[x],
            sub["power"],
            yerr=1.96 * sub["power_se"],
            marker="o",
            ms=4,
            capsize=3,
            color=f"C{i % 10}",
            label=label,
        )
    ax.axhline(0.8, color="0.5", ls="--", lw=0.9, label="80%")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(x)
    target = result.attrs.get("target")
    ax.set_ylabel("power" + (f" (95% interval of {target} excludes 0)" if target else ""))
    n = int(summary["n_fits"].min()) if len(summary) else 0
    ax.set_title(f"Power by {x} ({n}+ data sets per point; bars: 95% Monte Carlo interval)", fontsize=10)
    ax.legend(fontsize=8)
    return fig


def plot_sbc(result, parameters: list[str] | None = None):
    """ECDF difference of the SBC ranks (PIT) with simultaneous bands, one panel per parameter."""
    _check(result, "sbc")
    pit = result.attrs["pit"]
    names_ = parameters or list(pit.data_vars)
    tree = xr.DataTree.from_dict({"prior_sbc": pit[names_]})
    pc = azp.plot_ecdf_pit(tree, backend="matplotlib")
    fig = pc.viz["figure"].item()
    fig.set_size_inches(min(4.2 * len(names_), 13), 3.6)
    fig.set_layout_engine("constrained")
    fig.suptitle(
        f"Simulation-based calibration: ECDF of the PIT minus uniform ({result.summary['n_fits'].min()} fits; "
        "p: arviz-stats' uniformity test)",
        fontsize=10,
    )
    return fig
