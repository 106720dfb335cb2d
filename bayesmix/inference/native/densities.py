"""The native log densities with their gradients, in numba; one per program kind.

Each takes the unconstrained point ``x``, writes the gradient into ``grad`` and reads its
program's arrays from the tuple ``A`` (in the order of the kind's ``ARRAYS``).  They return
-inf wherever the density is not finite (outside the support, a singular covariance, NaN).
"""

from __future__ import annotations

import math

import numpy as np

from bayesmix.inference.native.blocks import (
    KERNEL,
    NESTED_KERNEL,
    covariance,
    covariance_grad,
    dot,
    jit,
    population,
    population_grad,
)
from bayesmix.inference.native.crossed import crossed
from bayesmix.inference.native.families import row_loglik
from bayesmix.inference.native.scalar import (
    LOG_2PI_HALF,
    chain_rule,
    cholesky_grad,
    constrain,
    fill_cholesky,
    priors_of,
)

__all__ = ["one_factor", "nested", "rows"]


@jit
def one_factor(x, grad, A):
    """The collapsed one-factor Gaussian model (the collapsed kernel of :mod:`bayesmix.collapsed`)."""
    code, par, _, theta_idx, sd_idx, cpc_idx, cpc_row, cpc_col, sigma_idx = A[:9]
    N, yty, Dty, DtD, ZtZ, ZtD, Zty = A[9:]
    n = x.shape[0]
    v = np.empty(n)
    g_v = np.zeros(n)
    total = constrain(code, x, v) + priors_of(code, par, v, g_v)
    p = theta_idx.shape[0]
    k = sd_idx.shape[0]
    theta = np.empty(p)
    for a in range(p):
        theta[a] = v[theta_idx[a]]
    m = cpc_idx.shape[0]
    L = np.zeros((k, k))
    before = np.empty(m)
    fill_cholesky(v, cpc_idx, cpc_row, cpc_col, 0, m, L, before)
    A_, Sigma = covariance(v, sd_idx, 0, k, L)
    sigma = np.array(v[sigma_idx[0]])
    ll, g_theta, g_Sigma, g_sigma = KERNEL(theta, Sigma, sigma, N, yty, Dty, DtD, ZtZ, ZtD, Zty)
    total += ll.item()
    if not np.isfinite(total):
        return -np.inf
    for a in range(p):
        g_v[theta_idx[a]] += g_theta[a]
    g_v[sigma_idx[0]] += g_sigma.item()
    gL = covariance_grad(g_Sigma, A_, L, v, sd_idx, 0, g_v)
    cholesky_grad(v, cpc_idx, cpc_row, cpc_col, 0, m, L, gL, before, g_v)
    chain_rule(code, v, g_v, grad)
    return total


@jit
def nested(x, grad, A):
    """The collapsed Gaussian model of a chain of nested factors (the nested kernel)."""
    code, par, _, theta_idx, sd_idx, cpc_idx, cpc_row, cpc_col, sigma_idx, lmeta = A[:10]
    N, EtE, ks, sizes, parents = A[10:]
    n = x.shape[0]
    v = np.empty(n)
    g_v = np.zeros(n)
    total = constrain(code, x, v) + priors_of(code, par, v, g_v)
    p = theta_idx.shape[0]
    theta = np.empty(p)
    for a in range(p):
        theta[a] = v[theta_idx[a]]
    n_levels = ks.shape[0]
    Ls = np.zeros((n_levels, 2, 2))
    As = np.zeros((n_levels, 2, 2))
    Sig = np.zeros((n_levels, 2, 2))
    before = np.empty(cpc_idx.shape[0])
    for lv in range(n_levels):
        k = ks[lv]
        L = Ls[lv, :k, :k]
        fill_cholesky(v, cpc_idx, cpc_row, cpc_col, lmeta[lv, 1], lmeta[lv, 2], L, before)
        A_, S = covariance(v, sd_idx, lmeta[lv, 0], k, L)
        As[lv, :k, :k] = A_
        Sig[lv, :k, :k] = S
    sigma = np.array(v[sigma_idx[0]])
    ll, g_theta, g_Sig, g_sigma = NESTED_KERNEL(theta, Sig, sigma, N, EtE, ks, sizes, parents)
    total += ll.item()
    if not np.isfinite(total):
        return -np.inf
    for a in range(p):
        g_v[theta_idx[a]] += g_theta[a]
    g_v[sigma_idx[0]] += g_sigma.item()
    for lv in range(n_levels):
        k = ks[lv]
        L = Ls[lv, :k, :k]
        g_S = np.ascontiguousarray(g_Sig[lv, :k, :k])
        gL = covariance_grad(g_S, As[lv, :k, :k], L, v, sd_idx, lmeta[lv, 0], g_v)
        cholesky_grad(v, cpc_idx, cpc_row, cpc_col, lmeta[lv, 1], lmeta[lv, 2], L, gL, before, g_v)
    chain_rule(code, v, g_v, grad)
    return total


@jit
def _sampled_rows(fcode, aux, g_aux, eta, R, gpos, Zv, fmeta, y, y2, ge, GR):
    """The group effects gathered into ``eta``, the row densities, their gradients scattered
    back into ``GR``; returns the log density; d/deta into ``ge``, d/daux added to ``g_aux``."""
    N = y.shape[0]
    for f in range(fmeta.shape[0]):
        k = fmeta[f, 0]
        c0 = fmeta[f, 4]
        if fmeta[f, 8] == 1:  # one coefficient whose column is all ones (a varying intercept)
            for i in range(N):
                eta[i] += R[gpos[f, i]]
        elif k == 2:  # (1 + x | g) and the like: the loop over the coefficients unrolled
            z0, z1 = Zv[c0], Zv[c0 + 1]
            for i in range(N):
                at = gpos[f, i]
                eta[i] += z0[i] * R[at] + z1[i] * R[at + 1]
        else:
            for i in range(N):
                s = 0.0
                for c in range(k):
                    s += Zv[c0 + c, i] * R[gpos[f, i] + c]
                eta[i] += s
    ll = row_loglik(fcode, aux, y, y2, eta, ge, g_aux)
    for f in range(fmeta.shape[0]):
        k = fmeta[f, 0]
        c0 = fmeta[f, 4]
        if fmeta[f, 8] == 1:
            for i in range(N):
                GR[gpos[f, i]] += ge[i]
        elif k == 2:
            z0, z1 = Zv[c0], Zv[c0 + 1]
            for i in range(N):
                at = gpos[f, i]
                g = ge[i]
                GR[at] += z0[i] * g
                GR[at + 1] += z1[i] * g
        else:
            for i in range(N):
                for c in range(k):
                    GR[gpos[f, i] + c] += Zv[c0 + c, i] * ge[i]
    return ll


@jit
def _rows_likelihood(fcode, fam, v, g_v, theta, XT, pat, offset, R, gpos, Zv, fmeta, y, y2, g_theta):
    """The row densities with every group effect sampled, in passes over the rows, each a tight
    loop: eta, the densities, the gradients back; d/dtheta into ``g_theta`` (d/daux into
    ``g_v``); returns (ll, d/dR)."""
    p = theta.shape[0]
    N = y.shape[0]
    eta = np.empty(N)
    if pat.shape[0] > 0:  # XT holds the distinct rows: eta is a gather from their values
        E = population(XT, theta)
        for i in range(N):
            eta[i] = offset[i] + E[pat[i]]
    else:
        for i in range(N):
            eta[i] = offset[i]
        for a in range(p):
            t = theta[a]
            for i in range(N):
                eta[i] += XT[a, i] * t
    aux_pos = int(fam[1])
    n_aux = int(fam[3])
    ge = np.empty(N)
    GR = np.zeros(R.shape[0])
    at = max(aux_pos, 0)  # (no extra parameter: an empty view)
    if fam[4] >= 0:  # two separate scalars: gathered, and their gradient scattered back
        pos2 = int(fam[4])
        aux2 = np.array([v[at], v[pos2]])
        g_aux2 = np.zeros(2)
        ll = _sampled_rows(fcode, aux2, g_aux2, eta, R, gpos, Zv, fmeta, y, y2, ge, GR)
        g_v[at] += g_aux2[0]
        g_v[pos2] += g_aux2[1]
    else:
        ll = _sampled_rows(
            fcode, v[at : at + n_aux], g_v[at : at + n_aux], eta, R, gpos, Zv, fmeta, y, y2, ge, GR
        )
    if pat.shape[0] > 0:  # scatter-add into the distinct rows (4 lanes, as the kernels' sums)
        G = np.zeros((4, XT.shape[1]))
        for i in range(N):
            G[i & 3, pat[i]] += ge[i]
        population_grad(XT, G, g_theta)
    else:
        for a in range(p):
            g_theta[a] = dot(XT[a], ge)
    return ll, GR


@jit
def _meta(fmeta, f):
    m = fmeta[f]
    return m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7]


@jit
def rows(x, grad, A):
    """A model with its group effects as parameters (:mod:`bayesmix.inference.native.rows`)."""
    code, par, _, theta_idx, XT, offset, y, y2, fam = A[:9]
    fmeta, sd_idx, cpc_idx, cpc_row, cpc_col, gpos, Zv, M = A[9:17]
    pat = A[26]  # (A[17:26] and A[27:34]: the integrated-out factor's arrays, read by crossed)
    n = x.shape[0]
    v = np.empty(n)
    g_v = np.zeros(n)
    total = constrain(code, x, v) + priors_of(code, par, v, g_v)
    p = theta_idx.shape[0]
    F = fmeta.shape[0]
    theta = np.empty(p)
    for a in range(p):
        theta[a] = v[theta_idx[a]]
    kmax = 1
    for f in range(F):
        kmax = max(kmax, fmeta[f, 0])
    Ls = np.zeros((F, kmax, kmax))
    before = np.empty(cpc_idx.shape[0])
    R = np.empty(M.shape[0])
    for f in range(F):
        k, J, mode, e0, c0, q0, nq, r0 = _meta(fmeta, f)
        L = Ls[f, :k, :k]
        fill_cholesky(v, cpc_idx, cpc_row, cpc_col, q0, nq, L, before)
        for j in range(J):
            for c in range(k):
                at = r0 + j * k + c
                if mode == 0:  # r = (z L') * sd
                    s = 0.0
                    for q in range(c + 1):
                        s += L[c, q] * v[e0 + j * k + q]
                    R[at] = v[sd_idx[c0 + c]] * s
                elif mode == 1:
                    R[at] = v[e0 + j * k + c]
                else:  # r = m - (M theta + m0)
                    s = M[at, p]
                    for a in range(p):
                        s += M[at, a] * theta[a]
                    R[at] = v[e0 + j * k + c] - s
    aux_pos = int(fam[1])
    fcode = int(fam[0])
    g_theta = np.zeros(p)
    if fcode == 5:
        cpc = (cpc_idx, cpc_row, cpc_col)
        C, T = A[17:26], A[27:34]
        ll, GR, g_aux = crossed(v, theta, XT, pat, R, y, cpc, before, C, T, aux_pos, g_v, g_theta)
    else:
        ll, GR = _rows_likelihood(
            fcode, fam, v, g_v, theta, XT, pat, offset, R, gpos, Zv, fmeta, y, y2, g_theta
        )
        g_aux = 0.0
    total += ll + fam[2]
    for f in range(F):
        k, J, mode, e0, c0, q0, nq, r0 = _meta(fmeta, f)
        L = Ls[f, :k, :k]
        C = np.empty((k, k))  # diag(sd) L
        for c in range(k):
            for q in range(k):
                C[c, q] = v[sd_idx[c0 + c]] * L[c, q]
        G = np.zeros((k, k))  # d/dC, lower triangle
        if mode == 0:
            for j in range(J):
                for c in range(k):
                    g = GR[r0 + j * k + c]
                    for q in range(c + 1):
                        G[c, q] += g * v[e0 + j * k + q]
                        g_v[e0 + j * k + q] += C[c, q] * g
        else:  # r_j ~ MvN(0, C C'): w = C^-1 r_j, u = C'^-1 w
            w = np.empty(k)
            u = np.empty(k)
            for j in range(J):
                at = r0 + j * k
                quad = 0.0
                for c in range(k):
                    s = R[at + c]
                    for q in range(c):
                        s -= C[c, q] * w[q]
                    w[c] = s / C[c, c]
                    quad += w[c] * w[c]
                for c in range(k - 1, -1, -1):
                    s = w[c]
                    for q in range(c + 1, k):
                        s -= C[q, c] * u[q]
                    u[c] = s / C[c, c]
                total += -0.5 * quad
                for c in range(k):
                    GR[at + c] -= u[c]
                    for q in range(c + 1):
                        G[c, q] += u[c] * w[q]
            for c in range(k):
                total += -J * (math.log(C[c, c]) + LOG_2PI_HALF)
                G[c, c] -= J / C[c, c]
            for j in range(J):
                for c in range(k):
                    at = r0 + j * k + c
                    g_v[e0 + j * k + c] += GR[at]
                    if mode == 2:
                        for a in range(p):
                            g_theta[a] -= M[at, a] * GR[at]
        gL = np.zeros((k, k))
        for c in range(k):
            s = 0.0
            for q in range(c + 1):
                s += G[c, q] * L[c, q]
                gL[c, q] = G[c, q] * v[sd_idx[c0 + c]]
            g_v[sd_idx[c0 + c]] += s
        if nq > 0:
            cholesky_grad(v, cpc_idx, cpc_row, cpc_col, q0, nq, L, gL, before, g_v)
    if not np.isfinite(total):
        return -np.inf
    for a in range(p):
        g_v[theta_idx[a]] += g_theta[a]
    if fcode == 5:
        g_v[aux_pos] += g_aux
    chain_rule(code, v, g_v, grad)
    return total
