"""Building blocks the native densities share: the numba decorator, a factor's covariance and
its gradient, the population part and its gradient, a pipelined dot product, and the collapsed
Gaussian kernels (written once in :mod:`bayesmix.collapsed.kernels`)."""

from __future__ import annotations

import numba
import numpy as np

from bayesmix.collapsed.kernels import kernels

__all__ = ["jit", "covariance", "covariance_grad", "population", "population_grad", "dot"]
__all__ += ["KERNEL", "GROUPS", "GROUPS_SCALAR", "TOTAL", "NESTED_KERNEL"]

jit = numba.njit(fastmath=False, cache=False, error_model="numpy")
KERNEL = kernels()["loglik"]
GROUPS = kernels()["groups"]
GROUPS_SCALAR = kernels()["groups_scalar"]
TOTAL = kernels()["total"]
NESTED_KERNEL = kernels()["nested"]


@jit
def covariance(v, sd_idx, c0, k, L):
    """``A = diag(sd) L`` and ``Sigma = A A'`` of a factor whose SDs sit at ``sd_idx[c0:c0+k]``."""
    A_ = np.empty((k, k))
    for a in range(k):
        for c in range(k):
            A_[a, c] = v[sd_idx[c0 + a]] * L[a, c]
    Sigma = np.empty((k, k))
    for a in range(k):
        for c in range(k):
            s = 0.0
            for q in range(k):
                s += A_[a, q] * A_[c, q]
            Sigma[a, c] = s
    return A_, Sigma


@jit
def covariance_grad(g_Sigma, A_, L, v, sd_idx, c0, g_v):
    """Back through :func:`covariance`: d/dsd into ``g_v``; returns d/dL.
    (``Sigma = A A'``: dA = (G + G') A; ``A = diag(sd) L``.)"""
    k = L.shape[0]
    gL = np.zeros((k, k))
    for a in range(k):
        for c in range(k):
            s = 0.0
            for q in range(k):
                s += (g_Sigma[a, q] + g_Sigma[q, a]) * A_[q, c]
            g_v[sd_idx[c0 + a]] += s * L[a, c]
            gL[a, c] = s * v[sd_idx[c0 + a]]
    return gL


@jit
def population(XT, theta):
    """``XT' theta``: the population part of each column of ``XT`` (its distinct rows, or each row)."""
    E = np.zeros(XT.shape[1])
    for a in range(theta.shape[0]):
        t = theta[a]
        for u in range(XT.shape[1]):
            E[u] += XT[a, u] * t
    return E


@jit
def population_grad(XT, G, g_theta):
    """Adds ``XT g`` to ``g_theta``, ``g`` (d/d the columns' values) summed from the four lanes ``G``."""
    for u in range(XT.shape[1]):
        s = (G[0, u] + G[1, u]) + (G[2, u] + G[3, u])
        for a in range(g_theta.shape[0]):
            g_theta[a] += XT[a, u] * s


@jit
def dot(a, b):
    """sum(a * b) with eight partial sums: without fast-math a single running sum waits on each
    addition's latency; independent sums pipeline (and a fixed order keeps the draws reproducible)."""
    n = a.shape[0]
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    m = n - n % 8
    for i in range(0, m, 8):
        s0 += a[i] * b[i]
        s1 += a[i + 1] * b[i + 1]
        s2 += a[i + 2] * b[i + 2]
        s3 += a[i + 3] * b[i + 3]
        s4 += a[i + 4] * b[i + 4]
        s5 += a[i + 5] * b[i + 5]
        s6 += a[i + 6] * b[i + 6]
        s7 += a[i + 7] * b[i + 7]
    for i in range(m, n):
        s0 += a[i] * b[i]
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
