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
:func:`strategy` says which applies to a model, and why none does.
"""

from __future__ import annotations

from bayesmix.collapsed.nested import nested_chain

__all__ = ["strategy", "applies", "STRATEGIES"]

#: the strategies, by name
STRATEGIES = ("one_factor", "nested", "crossed")


def strategy(design, family) -> tuple[str | None, str]:
    """The collapsed strategy covering this model (a name in :data:`STRATEGIES`), or None and why not."""
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


def applies(design, family) -> tuple[bool, str]:
    """Whether the collapsed likelihood covers this model, and why not when it does not."""
    name, why = strategy(design, family)
    return name is not None, why
