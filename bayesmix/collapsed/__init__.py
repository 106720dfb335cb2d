"""Collapsed Gaussian sampling: integrate the group effects out, draw them back afterwards.

NUTS then samples only the population effects, SDs, correlations and sigma; for every
posterior draw the group effects are drawn exactly from their conditional posterior,
so every table and plot works unchanged.  Three strategies, one module each:

* :mod:`~bayesmix.collapsed.one_factor`: one grouping factor, any number of varying
  coefficients (per-group sufficient statistics; cost per gradient O(J k^2 p));
* :mod:`~bayesmix.collapsed.nested`: a chain of nested factors with up to two varying
  coefficients each (one Woodbury step per level);
* :mod:`~bayesmix.collapsed.crossed`: crossed factors, one of them integrated out given
  the others' effects.

The log-likelihood Ops and their numba kernels are in :mod:`~bayesmix.collapsed.op`.
:func:`strategy` says which applies to a model, and why none does; :func:`make` builds its
data object, which adds its log likelihood to the graph (``add_loglik``) and draws the
integrated-out effects after sampling (``draw_effects``), the same calls for every strategy
(:class:`~bayesmix.collapsed.common.Collapse`).
"""

from __future__ import annotations

from bayesmix.collapsed.common import Collapse, GraphParts
from bayesmix.collapsed.crossed import RowsCollapse, partial_factor
from bayesmix.collapsed.nested import NestedStats, nested_chain
from bayesmix.collapsed.one_factor import SuffStats

__all__ = ["strategy", "applies", "make", "integrated_out", "STRATEGIES", "Collapse", "GraphParts"]

#: the strategies, by name
STRATEGIES = ("one_factor", "nested", "crossed")


def strategy(design, family, weighted: bool = False) -> tuple[str | None, str]:
    """The collapsed strategy covering this model (a name in :data:`STRATEGIES`), or None and why not."""
    if weighted:
        return None, "weighted rows (the sufficient statistics assume equal weights)"
    if family.name != "gaussian":
        return None, f"the {family.name} likelihood has no closed-form marginal"
    if not design.terms:
        return None, "no population-level terms"
    if not design.factors:
        return None, "no grouping factors"
    if len(design.factors) == 1:
        return "one_factor", ""  # any number of varying coefficients
    if nested_chain(design) is None:
        return "crossed", ""  # one factor is integrated out given the others
    for f in design.factors:
        if len(f.coefs) > 2:
            return None, (
                f"{len(f.coefs)} varying coefficients for {f.name} (collapsing nested factors covers up to 2)"
            )
    return "nested", ""


def applies(design, family, weighted: bool = False) -> tuple[bool, str]:
    """Whether the collapsed likelihood covers this model, and why not when it does not."""
    name, why = strategy(design, family, weighted)
    return name is not None, why


def integrated_out(design, name: str) -> list:
    """The factors strategy ``name`` integrates out, in the order its graph side reads them."""
    if name == "one_factor":
        return list(design.factors)
    if name == "nested":
        return nested_chain(design)
    return [partial_factor(design)]


def make(name: str, design, y, xbar, slope_idx) -> Collapse:
    """The data object of strategy ``name`` for this design (the graph then calls its ``add_loglik``)."""
    if name == "one_factor":
        return SuffStats(design, y, xbar, slope_idx)
    if name == "nested":
        return NestedStats(design, y, xbar, slope_idx, nested_chain(design))
    return RowsCollapse(design, y, partial_factor(design))
