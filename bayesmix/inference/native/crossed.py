"""The native Gaussian density with one crossed factor integrated out given the other factors'
sampled effects (program kind ``"rows"``, family code 5)."""

from __future__ import annotations

import numpy as np

from bayesmix.inference.native.blocks import (
    GROUPS,
    GROUPS_SCALAR,
    TOTAL,
    covariance,
    covariance_grad,
    dot,
    jit,
    population,
    population_grad,
)
from bayesmix.inference.native.scalar import cholesky_grad, fill_cholesky

__all__ = ["crossed"]


@jit
def _per_group_effects(R, pindex, cstart, cZsum, unit_Z, S, B, ete):
    """The effects that are one per collapsed group (``pindex``: an intercept of a factor the
    collapsed one is nested in) folded into the groups' sums: returns their per-group total ``P``
    and the residuals' sum of squares less ``P_j (2 S_j - n_j P_j)``; ``B`` gets ``S_j - n_j P_j``
    (intercept only, ``unit_Z``) or has ``P_j`` times Z's column sums taken off."""
    J = cstart.shape[0] - 1
    P = np.zeros(J)
    for j in range(J):
        Pj = 0.0
        for q in range(pindex.shape[0]):
            Pj += R[pindex[q, j]]
        P[j] = Pj
        n_j = cstart[j + 1] - cstart[j]
        ete -= Pj * (2.0 * S[j] - n_j * Pj)
        if unit_Z:
            B[j, 0] = S[j] - n_j * Pj
        else:
            for a in range(B.shape[1]):
                B[j, a] -= Pj * cZsum[j, a]
    return P, ete


@jit
def _two_passes(theta, XT, pat, R, y, Sigma, s2, C, g_Sigma, g_theta):
    """:func:`crossed` in two passes over the rows (sorted by the collapsed factor's groups).

    The same quantities as the collapsed rows kernel (:mod:`bayesmix.collapsed.op`): per group
    ``b_j = Z_j'(y_j - mu_j)``, the residuals' sum of squares, then the groups' Woodbury terms
    (``kernels()["groups"]``) and d/dmu per row.  The first pass forms each row's residual (the
    population part from its distinct rows when ``pat`` says so) and the group's sums in
    registers; an effect that is one per group (``pindex``) enters through those sums.  The
    second pass scatters d/dmu into ``R``'s gradient and the population part's.  ``Sigma`` is
    the collapsed factor's covariance, ``s2`` the residual variance; d/dSigma goes into
    ``g_Sigma``, the population coefficients' gradient into ``g_theta``; returns (ll, d/dR,
    d/ds2), or -inf when a group's covariance is not positive definite.
    """
    cmeta, csd_idx, cstart, cZ, cZsum, cZtZ, oindex, oZ, pindex = C
    k = cmeta[0]
    N = y.shape[0]
    J = cstart.shape[0] - 1
    p = theta.shape[0]
    # ``pat`` maps each row to a column of ``XT``: its distinct rows, or every row (pat = 0..N-1)
    distinct = XT.shape[1] != N
    E = population(XT, theta)  # the population part of each distinct row, or of each row
    Qr, Qp = oindex.shape[0], pindex.shape[0]
    unit_o = oZ.shape[1] == 0
    unit_Z = cZ.shape[1] == 0
    r = np.empty(N)  # residuals without the per-group effects
    B = np.zeros((J, k))
    S = np.zeros(J)  # per group: the sum of r
    ete = 0.0  # sum of r^2
    if unit_Z and unit_o and Qr == 1:  # intercepts only, one factor per row: InstEval's shape
        ix = oindex[0]
        for j in range(J):
            i, i1 = cstart[j], cstart[j + 1]
            s0 = s1 = e0 = e1 = 0.0  # two running sums each: independent additions pipeline
            while i + 1 < i1:
                ra = y[i] - E[pat[i]] - R[ix[i]]
                rb = y[i + 1] - E[pat[i + 1]] - R[ix[i + 1]]
                r[i] = ra
                r[i + 1] = rb
                s0 += ra
                s1 += rb
                e0 += ra * ra
                e1 += rb * rb
                i += 2
            if i < i1:
                ra = y[i] - E[pat[i]] - R[ix[i]]
                r[i] = ra
                s0 += ra
                e0 += ra * ra
            S[j] = s0 + s1
            ete += e0 + e1
    else:
        for j in range(J):
            s0 = e0 = 0.0
            for i in range(cstart[j], cstart[j + 1]):
                ri = y[i] - E[pat[i]]
                for q in range(Qr):
                    ri -= R[oindex[q, i]] if unit_o else oZ[q, i] * R[oindex[q, i]]
                r[i] = ri
                s0 += ri
                e0 += ri * ri
                if not unit_Z:
                    for a in range(k):
                        B[j, a] += cZ[i, a] * ri
            S[j] = s0
            ete += e0
    P, ete = _per_group_effects(R, pindex, cstart, cZsum, unit_Z, S, B, ete)
    Mm = np.zeros((J, k))
    ok, logdet, mb, extra = GROUPS(Sigma, s2, cZtZ, B, Mm, g_Sigma)
    GR = np.zeros(R.shape[0])
    if not ok:
        return -np.inf, GR, 0.0
    ll, g_s2 = TOTAL(N, s2, logdet, ete, mb, extra)
    inv_s2 = 1.0 / s2
    G = np.zeros((4, E.shape[0] if distinct else 0))  # d/dE in four interleaved copies (lane = row & 3)
    ge = np.empty(0 if distinct else N)  # d/dmu per row
    if unit_Z and unit_o and Qr == 1 and distinct:
        ix = oindex[0]
        for j in range(J):
            c = P[j] + Mm[j, 0]
            gs = 0.0
            for i in range(cstart[j], cstart[j + 1]):
                g = (r[i] - c) * inv_s2
                GR[ix[i]] += g
                G[i & 3, pat[i]] += g
                gs += g
            for q in range(Qp):
                GR[pindex[q, j]] += gs
    else:
        for j in range(J):
            c = P[j] + Mm[j, 0] if unit_Z else P[j]
            gs = 0.0
            for i in range(cstart[j], cstart[j + 1]):
                e = r[i] - c
                if not unit_Z:
                    for a in range(k):
                        e -= cZ[i, a] * Mm[j, a]
                g = e * inv_s2
                for q in range(Qr):
                    GR[oindex[q, i]] += g if unit_o else oZ[q, i] * g
                if distinct:
                    G[i & 3, pat[i]] += g
                else:
                    ge[i] = g
                gs += g
            for q in range(Qp):
                GR[pindex[q, j]] += gs
    if distinct:
        population_grad(XT, G, g_theta)
    else:
        for a in range(p):
            g_theta[a] += dot(XT[a], ge)
    return ll, GR, g_s2


@jit
def crossed(v, theta, XT, pat, R, y, cpc, before, C, T, at, g_v, g_theta):
    """The Gaussian likelihood with one crossed factor integrated out given the others' effects
    ``R``; returns (ll, d/dR, d/dsigma), SDs' and CPCs' gradients into ``g_v``, the population
    coefficients' into ``g_theta``.

    The collapsed factor's covariance (from its SDs and CPCs) is formed here once and its
    gradient taken here; the likelihood comes from the rows' sufficient statistics ``T`` when the
    program holds them (an intercept-only factor integrated out, one other factor's intercept per
    row: InstEval's shape), else from the rows in two passes.  ``cpc`` is (cpc_idx, cpc_row, cpc_col), ``C`` the collapsed
    factor's arrays (``cmeta`` to ``pindex`` in :data:`~bayesmix.inference.native.rows.ARRAYS`),
    ``T`` the statistics (``tstart`` to ``tmeta``).
    """
    cpc_idx, cpc_row, cpc_col = cpc
    cmeta, csd_idx = C[0], C[1]
    k, q0, nq = cmeta[0], cmeta[1], cmeta[2]
    L = np.zeros((k, k))
    fill_cholesky(v, cpc_idx, cpc_row, cpc_col, q0, nq, L, before)
    A_, Sigma = covariance(v, csd_idx, 0, k, L)
    sigma = v[at]
    g_Sigma = np.zeros((k, k))
    if T[0].shape[0] > 1:
        ll, GR, g_s2 = _sufficient(theta, R, Sigma, sigma * sigma, C, T, g_Sigma, g_theta)
    else:
        ll, GR, g_s2 = _two_passes(theta, XT, pat, R, y, Sigma, sigma * sigma, C, g_Sigma, g_theta)
    if ll == -np.inf:
        return ll, GR, 0.0
    gL = covariance_grad(g_Sigma, A_, L, v, csd_idx, 0, g_v)
    if nq > 0:
        cholesky_grad(v, cpc_idx, cpc_row, cpc_col, q0, nq, L, gL, before, g_v)
    return ll, GR, 2.0 * sigma * g_s2


@jit
def _gathered_sum(values, index, i, i1):
    """``sum(values[index[i:i1]])`` in four running sums (independent additions pipeline; a
    fixed order keeps the draws reproducible)."""
    s0 = s1 = s2 = s3 = 0.0
    while i + 3 < i1:
        s0 += values[index[i]]
        s1 += values[index[i + 1]]
        s2 += values[index[i + 2]]
        s3 += values[index[i + 3]]
        i += 4
    while i < i1:
        s0 += values[index[i]]
        i += 1
    return (s0 + s1) + (s2 + s3)


@jit
def _combine(T, phi):
    """``T' phi`` for statistics stored column by column (m, n): m passes along rows."""
    out = np.zeros(T.shape[1])
    for a in range(T.shape[0]):
        f = phi[a]
        row = T[a]
        for u in range(T.shape[1]):
            out[u] += row[u] * f
    return out


@jit
def _sufficient(theta, R, Sigma, s2, C, T, g_Sigma, g_theta):
    """:func:`_two_passes` for an intercept-only collapsed factor and one other factor whose
    intercept each row adds, without a pass over the rows' data.

    With ``a_i`` a row's population columns and its centred response, and ``phi`` such that
    ``a_i . phi`` is the row's residual before the other factor's effect ``R_u``, every
    quantity is a sum over the rows of a product of those:  the residuals' sum of squares is
    ``phi' G phi - 2 sum_u R_u A_u . phi + sum_u n_u R_u^2`` (``G`` the statistics' Gram matrix,
    ``A_u`` their sums over level ``u``'s rows), a collapsed group's residual sum is
    ``A_j . phi`` minus its rows' ``R_u``, and d/dR_u is ``A_u . phi - n_u R_u`` minus its
    rows' collapsed-group terms.  What is left per row are two gathers summed in order (the
    collapsed groups' rows by group, the other factor's by level), no scatter: about half the
    time of the rows' passes on InstEval (``benchmarks/README.md``, session 16).
    """
    cmeta, csd_idx, cstart, cZ, cZsum, cZtZ, oindex, oZ, pindex = C
    tstart, tgroup, tpos, tU, tJ, tG, tmeta = T
    k = cmeta[0]
    J = cstart.shape[0] - 1
    N = cstart[J]
    U = tpos.shape[0]
    m = tG.shape[0]
    p = theta.shape[0]
    one = int(tmeta[1])  # the column of ones among the statistics
    phi = np.zeros(m)
    for a in range(p):
        phi[a] = -theta[a]
    phi[one] += tmeta[0]  # the response's mean (it is stored centred)
    phi[m - 1] = 1.0
    Gphi = np.zeros(m)
    ete = 0.0
    for a in range(m):
        s = 0.0
        for b in range(m):
            s += tG[a, b] * phi[b]
        Gphi[a] = s
        ete += phi[a] * s
    # per level u of the other factor (the statistics stored column by column: these loops
    # run along contiguous rows and vectorise)
    Rv = np.empty(U)
    for u in range(U):
        Rv[u] = R[tpos[u]]
    Au = _combine(tU, phi)  # A_u . phi
    nU = tU[one]
    e = np.empty(U)
    for u in range(U):
        e[u] = nU[u] * Rv[u] - 2.0 * Au[u]
    ete += dot(Rv, e)
    ix = oindex[0]
    S = _combine(tJ, phi)  # per collapsed group: its residuals' sum without per-group effects
    for j in range(J):
        S[j] -= _gathered_sum(R, ix, cstart[j], cstart[j + 1])
    Qp = pindex.shape[0]
    B = np.zeros((J, k))
    P, ete = _per_group_effects(R, pindex, cstart, cZsum, True, S, B, ete)
    Mm = np.zeros((J, k))
    ok, logdet, mb, extra = GROUPS_SCALAR(Sigma[0, 0], s2, cZtZ, B, Mm, g_Sigma)
    GR = np.zeros(R.shape[0])
    if not ok:
        return -np.inf, GR, 0.0
    ll, g_s2 = TOTAL(N, s2, logdet, ete, mb, extra)
    inv_s2 = 1.0 / s2
    c = np.empty(J)  # what each row of group j subtracts from its residual in d/dmu
    for j in range(J):
        cj = P[j] + Mm[j, 0]
        c[j] = cj
        gs = (S[j] - (cstart[j + 1] - cstart[j]) * cj) * inv_s2
        for q in range(Qp):
            GR[pindex[q, j]] += gs
    for u in range(U):
        cu = _gathered_sum(c, tgroup, tstart[u], tstart[u + 1])
        GR[tpos[u]] += (Au[u] - nU[u] * Rv[u] - cu) * inv_s2
    for a in range(p):  # sum over the rows of d/dmu times the population columns
        g_theta[a] += (Gphi[a] - dot(tU[a], Rv) - dot(tJ[a], c)) * inv_s2
    return ll, GR, g_s2
