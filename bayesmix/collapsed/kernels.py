"""numba kernels of the collapsed log-likelihood Ops (:mod:`bayesmix.collapsed.op`).

Each computes the log likelihood and its gradient in one pass over the groups (or rows),
with the math documented in :mod:`bayesmix.collapsed.op`, whose numpy functions are the
reference they are tested against.  Compiled once per machine and cached on disk under
:func:`cache_version`.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["kernels", "cache_version"]


# No fast-math in the kernels, whatever PyTensor's config says: with any of its flags (reassociation
# alone included) a process that compiled a kernel and one that loaded it from numba's disk cache
# drew different last bits for the same seed (the kernels measured as fast without it).
_FASTMATH = False


@functools.cache
def kernels() -> dict:
    """The numba implementations by Op (``"loglik"``, ``"rows"``), built on first use."""
    from pytensor.link.numba.dispatch.basic import numba_njit

    @numba_njit(fastmath=_FASTMATH)
    def chol(A, L):
        k = A.shape[0]
        for i in range(k):
            for j in range(i + 1):
                s = A[i, j]
                for q in range(j):
                    s -= L[i, q] * L[j, q]
                if i == j:
                    if s <= 0.0:
                        return False
                    L[i, i] = np.sqrt(s)
                else:
                    L[i, j] = s / L[j, j]
        return True

    @numba_njit(fastmath=_FASTMATH)
    def chol_inverse(L, out, W):
        # out = (L L')^{-1}, through W = L^{-1} (lower triangular; W is a work buffer)
        k = L.shape[0]
        for i in range(k):
            W[i, i] = 1.0 / L[i, i]
            for j in range(i):
                s = 0.0
                for q in range(j, i):
                    s -= L[i, q] * W[q, j]
                W[i, j] = s / L[i, i]
        for i in range(k):
            for j in range(k):
                s = 0.0
                for q in range(max(i, j), k):
                    s += W[q, i] * W[q, j]
                out[i, j] = s

    @numba_njit(fastmath=_FASTMATH)
    def groups(Sigma, s2, ZtZ, B, Mm, g_Sigma):
        # Fills Mm (conditional means) and g_Sigma; returns (ok, log dets, sum m'b, extra).
        J, k = B.shape
        Ls = np.zeros((k, k))
        if not (s2 > 0.0) or not chol(Sigma, Ls):
            return False, 0.0, 0.0, 0.0
        Sinv = np.zeros((k, k))
        W = np.zeros((k, k))
        chol_inverse(Ls, Sinv, W)
        logdet = 0.0
        for a in range(k):
            logdet += 2.0 * J * np.log(Ls[a, a])
        M = np.zeros((k, k))
        Lm = np.zeros((k, k))
        C = np.zeros((k, k))
        S = np.zeros((k, k))
        mb = 0.0
        extra = 0.0  # sum_j m'Z'Z m + tr(Z'Z C)
        for j in range(J):
            for a in range(k):
                for c in range(k):
                    M[a, c] = Sinv[a, c] + ZtZ[j, a, c] / s2
            if not chol(M, Lm):
                return False, 0.0, 0.0, 0.0
            chol_inverse(Lm, C, W)
            for a in range(k):
                logdet += 2.0 * np.log(Lm[a, a])
                s = 0.0
                for c in range(k):
                    s += C[a, c] * B[j, c]
                Mm[j, a] = s / s2
            for a in range(k):
                mb += Mm[j, a] * B[j, a]
                for c in range(k):
                    extra += Mm[j, a] * ZtZ[j, a, c] * Mm[j, c] + ZtZ[j, a, c] * C[c, a]
                    S[a, c] += Mm[j, a] * Mm[j, c] + C[a, c]
        for a in range(k):
            for c in range(k):
                t = 0.0
                for q in range(k):
                    for r in range(k):
                        t += Sinv[a, q] * S[q, r] * Sinv[r, c]
                g_Sigma[a, c] = 0.5 * (t - J * Sinv[a, c])
        return True, logdet, mb, extra

    @numba_njit(fastmath=_FASTMATH)
    def collapsed_loglik_kernel(theta, Sigma, sigma_, N_, yty_, Dty, DtD, ZtZ, ZtD, Zty):
        # PyTensor hands scalars over as 0-d arrays
        sigma, N, yty = sigma_.item(), N_.item(), yty_.item()
        J, k, p = ZtD.shape
        s2 = sigma * sigma
        g_theta = np.zeros(p)
        g_Sigma = np.zeros((k, k))
        B = np.zeros((J, k))
        for j in range(J):
            for a in range(k):
                s = Zty[j, a]
                for c in range(p):
                    s -= ZtD[j, a, c] * theta[c]
                B[j, a] = s
        Mm = np.zeros((J, k))
        ok, logdet, mb, extra = groups(Sigma, s2, ZtZ, B, Mm, g_Sigma)
        if not ok:
            return (np.array(-np.inf), g_theta, g_Sigma, np.array(0.0))
        ete = yty
        for a in range(p):
            ete -= 2.0 * theta[a] * Dty[a]
            for c in range(p):
                ete += theta[a] * DtD[a, c] * theta[c]
        ll = -0.5 * (N * np.log(2.0 * np.pi * s2) + logdet + ete / s2 - mb / s2)
        g_s2 = -0.5 * N / s2 + 0.5 * (ete - 2.0 * mb + extra) / (s2 * s2)
        for c in range(p):
            s = Dty[c]
            for q in range(p):
                s -= DtD[c, q] * theta[q]
            for j in range(J):
                for a in range(k):
                    s -= ZtD[j, a, c] * Mm[j, a]
            g_theta[c] = s / s2
        return (np.array(ll), g_theta, g_Sigma, np.array(2.0 * sigma * g_s2))

    # Sums over rows go to 4 interleaved copies (lane = row & 3): with rows sorted by group, adding
    # into one slot row after row waits on the previous add; 4 lanes break that chain.
    # (Measured on InstEval's 73,421 rows: 0.25 -> 0.12 ms for two factors' scatter.)

    @numba_njit(fastmath=_FASTMATH)
    def collapsed_rows_kernel(eta, u, Sigma, sigma_, y, Z, index, ZtZ, others_index, others_Z):
        # Each loop over the rows comes in two versions: unit weights (zero-width Z/others_Z)
        # or weights read from the arrays; the passes stay separate (fusing them measured slower).
        sigma = sigma_.item()
        N = y.shape[0]
        Q = others_index.shape[0]
        J, k = ZtZ.shape[0], ZtZ.shape[1]
        unit_Z = Z.shape[1] == 0
        unit_others = others_Z.shape[1] == 0
        s2 = sigma * sigma
        g_eta = np.empty(N)
        g_u = np.zeros(u.shape[0])
        g_Sigma = np.zeros((k, k))
        for i in range(N):
            g_eta[i] = y[i] - eta[i]
        for q in range(Q):
            ix = others_index[q]
            if unit_others:
                for i in range(N):
                    g_eta[i] -= u[ix[i]]
            else:
                w = others_Z[q]
                for i in range(N):
                    g_eta[i] -= w[i] * u[ix[i]]
        acc = np.zeros((4, J, k))
        ete_lanes = np.zeros(4)
        if unit_Z:
            for i in range(N):
                r = g_eta[i]
                lane = i & 3
                ete_lanes[lane] += r * r
                acc[lane, index[i], 0] += r
        else:
            for i in range(N):
                r = g_eta[i]
                lane = i & 3
                ete_lanes[lane] += r * r
                for a in range(k):
                    acc[lane, index[i], a] += Z[i, a] * r
        ete = (ete_lanes[0] + ete_lanes[1]) + (ete_lanes[2] + ete_lanes[3])
        B = np.empty((J, k))
        for j in range(J):
            for a in range(k):
                B[j, a] = acc[0, j, a] + acc[1, j, a] + acc[2, j, a] + acc[3, j, a]
        Mm = np.zeros((J, k))
        ok, logdet, mb, extra = groups(Sigma, s2, ZtZ, B, Mm, g_Sigma)
        if not ok:
            return (np.array(-np.inf), np.zeros(N), g_u, g_Sigma, np.array(0.0))
        ll = -0.5 * (N * np.log(2.0 * np.pi * s2) + logdet + ete / s2 - mb / s2)
        g_s2 = -0.5 * N / s2 + 0.5 * (ete - 2.0 * mb + extra) / (s2 * s2)
        inv_s2 = 1.0 / s2
        if unit_Z:
            for i in range(N):
                g_eta[i] = (g_eta[i] - Mm[index[i], 0]) * inv_s2
        else:
            for i in range(N):
                s = g_eta[i]
                for a in range(k):
                    s -= Z[i, a] * Mm[index[i], a]
                g_eta[i] = s * inv_s2
        if Q > 0:
            lanes_u = np.zeros((4, u.shape[0]))
            for q in range(Q):
                ix = others_index[q]
                if unit_others:
                    for i in range(N):
                        lanes_u[i & 3, ix[i]] += g_eta[i]
                else:
                    w = others_Z[q]
                    for i in range(N):
                        lanes_u[i & 3, ix[i]] += w[i] * g_eta[i]
            for m in range(u.shape[0]):
                g_u[m] = lanes_u[0, m] + lanes_u[1, m] + lanes_u[2, m] + lanes_u[3, m]
        return (np.array(ll), g_eta, g_u, g_Sigma, np.array(2.0 * sigma * g_s2))

    return {"loglik": collapsed_loglik_kernel, "rows": collapsed_rows_kernel}


@functools.cache
def cache_version() -> int:
    """Key of the kernels in numba's on-disk cache: a hash of their source and fast-math flags,
    so an edited kernel is never served from a stale cache entry."""
    import hashlib
    import inspect

    source = inspect.getsource(kernels) + repr(_FASTMATH)  # the flags are part of the kernels
    return int(hashlib.sha256(source.encode()).hexdigest()[:15], 16)
