"""PyMC transforms of the graph's own (the math: :mod:`bayesmix.core.shares`)."""

from __future__ import annotations

import pytensor.tensor as pt
from pymc.logprob.transforms import Transform

from bayesmix.core.shares import log_jacobian, sds_from_shares, shares_from_sds

__all__ = ["VarianceShares"]


class VarianceShares(Transform):
    """SDs ``(K,)`` <-> ``(log total variance, K - 1 log-ratios of the variance shares)``.

    For the intercept SDs of nested factors (:func:`bayesmix.graph.parameterization.shared_variance`);
    the native callback knows it by this class's name.
    """

    name = "variance_shares"
    ndim_supp = 1

    def forward(self, value, *inputs):
        return shares_from_sds(value, pt)

    def backward(self, value, *inputs):
        return sds_from_shares(value, pt)

    def log_jac_det(self, value, *inputs):
        return log_jacobian(value, pt)
