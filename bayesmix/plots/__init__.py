"""Plots: each draws from a table or a DataTree and returns a matplotlib ``Figure``.

The numbers come from :mod:`bayesmix.post` (tables, shrinkage, conditional effects) or
from the posterior DataTree (trace and posterior predictive plots through arviz-plots);
these modules compute nothing but layout, so a figure can be drawn from a loaded file or
from tables a user filtered.  :meth:`bayesmix.Fit.plot` picks the inputs for each kind.

* :mod:`~bayesmix.plots.posterior` -- trace, forest, caterpillar;
* :mod:`~bayesmix.plots.pooling` -- shrinkage arrows, the two-coefficient shrinkage
  picture, per-group fitted lines;
* :mod:`~bayesmix.plots.checks` -- conditional effects, posterior and prior predictive
  checks, prior against posterior;
* :mod:`~bayesmix.plots.studies` -- recovery, power curves, SBC.
"""

from bayesmix.plots.checks import (
    plot_conditional_effects,
    plot_ppc,
    plot_prior_posterior,
    plot_prior_predictive,
)
from bayesmix.plots.pooling import plot_group_lines, plot_shrinkage, plot_shrinkage_2d
from bayesmix.plots.posterior import forest_panels, plot_caterpillar, plot_forest, plot_trace, trace_vars
from bayesmix.plots.studies import plot_power, plot_recovery, plot_sbc

__all__ = [
    "KINDS",
    "trace_vars",
    "plot_trace",
    "plot_forest",
    "plot_caterpillar",
    "forest_panels",
    "plot_shrinkage",
    "plot_shrinkage_2d",
    "plot_group_lines",
    "plot_conditional_effects",
    "plot_ppc",
    "plot_prior_predictive",
    "plot_prior_posterior",
    "plot_recovery",
    "plot_power",
    "plot_sbc",
]

#: what :meth:`bayesmix.Fit.plot` draws
KINDS = (
    "trace",
    "forest",
    "ranef",
    "coef",
    "shrinkage",
    "shrinkage2d",
    "lines",
    "effects",
    "ppc",
    "prior_posterior",
)
