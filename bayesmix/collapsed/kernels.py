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
    """The numba implementations by Op (``"loglik"``, ``"rows"``, ``"nested"``), and the groups'
    Woodbury terms and the total they share (``"groups"``, ``"total"``, also called by the native
    crossed density), built on first use."""
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
    def groups_scalar(sig, s2, ZtZ, B, Mm, g_Sigma):
        # groups() for one coefficient: the same terms in scalars, without the 1 x 1 Cholesky
        # factors and inverses (InstEval's 1,128 instructors: 29 -> 8 us per gradient).  Called
        # by the native crossed density, where the groups are many; the Ops and the other native
        # kinds keep groups() and so compile no more code
        J = B.shape[0]
        if not (s2 > 0.0) or not (sig > 0.0):
            return False, 0.0, 0.0, 0.0
        sinv = 1.0 / sig
        logdet = J * np.log(sig)
        mb = 0.0
        extra = 0.0
        S = 0.0
        for j in range(J):
            ztz = ZtZ[j, 0, 0]
            m = sinv + ztz / s2
            if not (m > 0.0):
                return False, 0.0, 0.0, 0.0
            c = 1.0 / m
            logdet += np.log(m)
            mm = c * B[j, 0] / s2
            Mm[j, 0] = mm
            mb += mm * B[j, 0]
            extra += mm * ztz * mm + ztz * c
            S += mm * mm + c
        g_Sigma[0, 0] = 0.5 * (sinv * S * sinv - J * sinv)
        return True, logdet, mb, extra

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
    def total(N, s2, logdet, ete, mb, extra):
        # the collapsed Gaussian log likelihood from the groups' terms (log dets, sum m'b, the
        # residuals' sum of squares ete) and its derivative in s2 = sigma^2
        ll = -0.5 * (N * np.log(2.0 * np.pi * s2) + logdet + ete / s2 - mb / s2)
        g_s2 = -0.5 * N / s2 + 0.5 * (ete - 2.0 * mb + extra) / (s2 * s2)
        return ll, g_s2

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
        ll, g_s2 = total(N, s2, logdet, ete, mb, extra)
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
        ll, g_s2 = total(N, s2, logdet, ete, mb, extra)
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

    @numba_njit(fastmath=_FASTMATH)
    def inverse_small(S, k, out):
        # inverse of a symmetric k x k (k <= 2) matrix into out; returns (ok, log det)
        if k == 1:
            if not (S[0, 0] > 0.0):
                return False, 0.0
            out[0, 0] = 1.0 / S[0, 0]
            return True, np.log(S[0, 0])
        det = S[0, 0] * S[1, 1] - S[0, 1] * S[1, 0]
        if not (det > 0.0) or not (S[0, 0] > 0.0):
            return False, 0.0
        out[0, 0] = S[1, 1] / det
        out[1, 1] = S[0, 0] / det
        out[0, 1] = -S[0, 1] / det
        out[1, 0] = -S[1, 0] / det
        return True, np.log(det)

    @numba_njit(fastmath=_FASTMATH)
    def nested_kernel(theta, Sig, sigma_, N_, EtE, ks, sizes, parents):
        # The collapsed log likelihood of nested factors (bayesmix.collapsed.nested: one Woodbury
        # step per group from the finest factor up, groups summed into their parents) and its
        # gradient by reverse mode through the same steps.  Gradients of symmetric matrices are
        # kept symmetric: for Q' = A - B W B' with W = M^{-1}, M = S^{-1} + C and symmetric dQ',
        # dA = dQ', dB = -dQ' B W (in each of the two off-diagonal blocks), dM = W B'dQ'B W + g W
        # (g: the coefficient of log det M), dC = dS^{-1} = dM.
        sigma, N = sigma_.item(), N_.item()  # 0-d arrays, as the other kernels take scalars
        L = ks.shape[0]
        Jf, m0 = EtE.shape[0], EtE.shape[1]
        p = theta.shape[0]
        s2 = sigma * sigma
        g_theta = np.zeros(p)
        g_Sig = np.zeros((L, 2, 2))
        dims = np.empty(L, np.int64)  # size of each group's matrix before its level's step
        d = m0
        for lv in range(L - 1, -1, -1):
            dims[lv] = d
            d -= ks[lv]
        qoff = np.zeros(L + 1, np.int64)
        woff = np.zeros(L + 1, np.int64)
        poff = np.zeros(L + 1, np.int64)
        for lv in range(L):
            qoff[lv + 1] = qoff[lv] + sizes[lv] * dims[lv] * dims[lv]
            woff[lv + 1] = woff[lv] + sizes[lv] * ks[lv] * ks[lv]
            poff[lv + 1] = poff[lv] + (sizes[lv] if lv > 0 else 0)
        Qb = np.zeros(qoff[L])
        Wb = np.empty(woff[L])
        Sinv = np.zeros((L, 2, 2))
        r0 = dims[0] - ks[0]  # 1 + p
        Qt = np.zeros((r0, r0))
        at = qoff[L - 1]
        for j in range(Jf):
            for a in range(m0):
                for b in range(m0):
                    Qb[at + (j * m0 + a) * m0 + b] = EtE[j, a, b] / s2
        ld = N * np.log(s2)
        M = np.empty((2, 2))
        W = np.empty((2, 2))
        for lv in range(L - 1, -1, -1):
            k, J, dl = ks[lv], sizes[lv], dims[lv]
            r = dl - k
            ok, ldS = inverse_small(Sig[lv], k, Sinv[lv])
            if not ok:
                return (np.array(-np.inf), g_theta, g_Sig, np.array(0.0))
            for j in range(J):
                q = qoff[lv] + j * dl * dl
                for a in range(k):
                    for c in range(k):
                        M[a, c] = Sinv[lv, a, c] + Qb[q + (r + a) * dl + r + c]
                ok, ldM = inverse_small(M, k, W)
                if not ok:
                    return (np.array(-np.inf), g_theta, g_Sig, np.array(0.0))
                ld += ldS + ldM
                w = woff[lv] + j * k * k
                for a in range(k):
                    for c in range(k):
                        Wb[w + a * k + c] = W[a, c]
                dst = qoff[lv - 1] + parents[poff[lv] + j] * r * r if lv > 0 else 0
                for a in range(r):
                    for b in range(r):
                        s = Qb[q + a * dl + b]
                        for c in range(k):
                            for e in range(k):
                                s -= Qb[q + a * dl + r + c] * W[c, e] * Qb[q + b * dl + r + e]
                        if lv > 0:
                            Qb[dst + a * r + b] += s
                        else:
                            Qt[a, b] += s
        v = np.empty(r0)
        v[0] = 1.0
        for a in range(p):
            v[1 + a] = -theta[a]
        quad = 0.0
        for a in range(r0):
            s = 0.0
            for b in range(r0):
                s += Qt[a, b] * v[b]
            quad += v[a] * s
            if a > 0:
                g_theta[a - 1] = s
        ll = -0.5 * (N * np.log(2.0 * np.pi) + ld + quad)
        # backward: dQ of every group, coarsest level first; the log dets' coefficient is -1/2
        g_ld = -0.5
        dQ = np.zeros(qoff[L])
        dSinv = np.zeros((L, 2, 2))
        G = np.empty((m0, m0))
        X = np.empty((m0, 2))
        for lv in range(L):
            k, J, dl = ks[lv], sizes[lv], dims[lv]
            r = dl - k
            for j in range(J):
                if lv == 0:
                    for a in range(r):
                        for b in range(r):
                            G[a, b] = -0.5 * v[a] * v[b]
                else:
                    src = qoff[lv - 1] + parents[poff[lv] + j] * r * r
                    for a in range(r):
                        for b in range(r):
                            G[a, b] = dQ[src + a * r + b]
                q = qoff[lv] + j * dl * dl
                w = woff[lv] + j * k * k
                for a in range(k):
                    for c in range(k):
                        W[a, c] = Wb[w + a * k + c]
                # X = G B W (r x k) and B'G B W -> M[:, :] = B' X  (k x k)
                for a in range(r):
                    for c in range(k):
                        s = 0.0
                        for b in range(r):
                            s += G[a, b] * Qb[q + b * dl + r + c]
                        X[a, c] = s
                for a in range(r):
                    x0 = X[a, 0]
                    if k == 1:
                        X[a, 0] = x0 * W[0, 0]
                    else:
                        x1 = X[a, 1]
                        X[a, 0] = x0 * W[0, 0] + x1 * W[1, 0]
                        X[a, 1] = x0 * W[0, 1] + x1 * W[1, 1]
                for a in range(k):
                    for c in range(k):
                        s = 0.0
                        for b in range(r):
                            s += Qb[q + b * dl + r + a] * X[b, c]
                        M[a, c] = s  # B' G B W
                for a in range(k):
                    for c in range(k):
                        s = g_ld * W[a, c]
                        for e in range(k):
                            s += W[a, e] * M[e, c]
                        dSinv[lv, a, c] += s
                        dQ[q + (r + a) * dl + r + c] = s
                for a in range(r):
                    for b in range(r):
                        dQ[q + a * dl + b] = G[a, b]
                    for c in range(k):
                        dQ[q + a * dl + r + c] = -X[a, c]
                        dQ[q + (r + c) * dl + a] = -X[a, c]
        at = qoff[L - 1]
        tr = 0.0  # sum of dQ * EtE over the finest groups (Q there is EtE / s2)
        for j in range(Jf):
            for a in range(m0):
                for b in range(m0):
                    tr += dQ[at + (j * m0 + a) * m0 + b] * EtE[j, a, b]
        g_s2 = g_ld * N / s2 - tr / (s2 * s2)
        for lv in range(L):
            k = ks[lv]
            for a in range(k):
                for c in range(k):
                    s = g_ld * sizes[lv] * Sinv[lv, a, c]
                    for e in range(k):
                        for f in range(k):
                            s -= Sinv[lv, a, e] * dSinv[lv, e, f] * Sinv[lv, f, c]
                    g_Sig[lv, a, c] = s
        return (np.array(ll), g_theta, g_Sig, np.array(2.0 * sigma * g_s2))

    return {
        "loglik": collapsed_loglik_kernel,
        "rows": collapsed_rows_kernel,
        "nested": nested_kernel,
        "groups": groups,
        "groups_scalar": groups_scalar,
        "total": total,
    }


@functools.cache
def cache_version() -> int:
    """Key of the kernels in numba's on-disk cache: a hash of their source and fast-math flags,
    so an edited kernel is never served from a stale cache entry."""
    import hashlib
    import inspect

    source = inspect.getsource(kernels) + repr(_FASTMATH)  # the flags are part of the kernels
    return int(hashlib.sha256(source.encode()).hexdigest()[:15], 16)
