"""Nested factors' intercept SDs as a total variance and its shares, for both backends.

When one grouping factor is nested in another and their effects are sampled, the data
identify the sum of the two variances far better than how it splits: a location with a
single group identifies only the sum of its two effects.  Sampled as separate log SDs, the
split is a slow direction for NUTS (``benchmarks/README.md``, session 17).  The ``K`` SDs
are therefore sampled as ``x = (T, u_1, ..., u_{K-1})`` with

    sd_k^2 = exp(T) * softmax(u_1, ..., u_{K-1}, 0)_k,

``T`` the log of the total variance and ``u`` the additive log-ratios of the shares.  The
priors stay on the SDs; the map's log-Jacobian is ``sum_k log sd_k - K log 2``.  Written
once here for the graph (``xp = pytensor.tensor``) and the draws (``xp = numpy``); the
native callback's numba version is :mod:`bayesmix.inference.native.scalar`.
"""

from __future__ import annotations

import math

__all__ = ["sds_from_shares", "shares_from_sds", "log_jacobian", "LOG_2"]

LOG_2 = math.log(2.0)


def _log_shares(x, xp):
    """``log softmax(u, 0)`` along the last axis, shape ``(..., K)``."""
    a = xp.concatenate([x[..., 1:], xp.zeros_like(x[..., :1])], axis=-1)
    top = xp.max(a, axis=-1, keepdims=True)
    return a - top - xp.log(xp.sum(xp.exp(a - top), axis=-1, keepdims=True))


def sds_from_shares(x, xp):
    """The ``K`` SDs from ``x = (T, u_1, ..., u_{K-1})`` (last axis)."""
    return xp.exp(0.5 * (x[..., :1] + _log_shares(x, xp)))


def shares_from_sds(sd, xp):
    """The inverse of :func:`sds_from_shares`: ``(log sum sd^2, log sd_k^2 - log sd_K^2)``."""
    log_v = 2.0 * xp.log(sd)
    total = xp.log(xp.sum(sd * sd, axis=-1, keepdims=True))
    return xp.concatenate([total, log_v[..., :-1] - log_v[..., -1:]], axis=-1)


def log_jacobian(x, xp):
    """``log |d sd / d x|`` = ``sum_k log sd_k - K log 2``, summed over the last axis."""
    k = x.shape[-1]
    return 0.5 * k * x[..., 0] + 0.5 * xp.sum(_log_shares(x, xp), axis=-1) - k * LOG_2
