"""The native log densities with their gradients, in numba; one per program kind.

Each takes the unconstrained point ``x``, writes the gradient into ``grad`` and reads its
program's arrays from the tuple ``A`` (in the order of the kind's ``ARRAYS``).  They return
-inf wherever the density is not finite (outside the support, a singular covariance, NaN).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from bayesmix.collapsed.kernels import kernels
from bayesmix.inference.native.scalar import (
    LOG_2PI_HALF,
    chain_rule,
    cholesky_grad,
    constrain,
    digamma,
    fill_cholesky,
    log_ndtr,
    log_ndtr_grad,
    log_sigmoid_grad,
    priors_of,
)

__all__ = ["one_factor", "nested", "rows"]

_jit = numba.njit(fastmath=False, cache=False, error_model="numpy")
_KERNEL = kernels()["loglik"]
_ROWS_KERNEL = kernels()["rows"]
_NESTED_KERNEL = kernels()["nested"]


@_jit
def _covariance(v, sd_idx, c0, k, L):
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


@_jit
def _covariance_grad(g_Sigma, A_, L, v, sd_idx, c0, g_v):
    """Back through :func:`_covariance`: d/dsd into ``g_v``; returns d/dL.
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


@_jit
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
    A_, Sigma = _covariance(v, sd_idx, 0, k, L)
    sigma = np.array(v[sigma_idx[0]])
    ll, g_theta, g_Sigma, g_sigma = _KERNEL(theta, Sigma, sigma, N, yty, Dty, DtD, ZtZ, ZtD, Zty)
    total += ll.item()
    if not np.isfinite(total):
        return -np.inf
    for a in range(p):
        g_v[theta_idx[a]] += g_theta[a]
    g_v[sigma_idx[0]] += g_sigma.item()
    gL = _covariance_grad(g_Sigma, A_, L, v, sd_idx, 0, g_v)
    cholesky_grad(v, cpc_idx, cpc_row, cpc_col, 0, m, L, gL, before, g_v)
    chain_rule(code, v, g_v, grad)
    return total


@_jit
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
        A_, S = _covariance(v, sd_idx, lmeta[lv, 0], k, L)
        As[lv, :k, :k] = A_
        Sig[lv, :k, :k] = S
    sigma = np.array(v[sigma_idx[0]])
    ll, g_theta, g_Sig, g_sigma = _NESTED_KERNEL(theta, Sig, sigma, N, EtE, ks, sizes, parents)
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
        gL = _covariance_grad(g_S, As[lv, :k, :k], L, v, sd_idx, lmeta[lv, 0], g_v)
        cholesky_grad(v, cpc_idx, cpc_row, cpc_col, lmeta[lv, 1], lmeta[lv, 2], L, gL, before, g_v)
    chain_rule(code, v, g_v, grad)
    return total


@_jit
def _loglik(fcode, aux, y, n, eta, ge, g_aux):
    """The rows' log densities without their data-only constants, summed; d/deta into ``ge``
    and d/d the family's extra parameters ``aux`` (a view of the constrained values; sigma,
    shape or the cutpoints) added to ``g_aux``.  One tight loop per family.  ``y`` and ``n``
    are the program's ``y`` and ``y2`` (binomial trials; gamma log y; beta log y and log(1 - y))."""
    N = y.shape[0]
    ll = 0.0
    if fcode == 1 or fcode == 2:  # bernoulli, binomial (logit)
        # log(1 + exp(e)) = max(e, 0) + log(1 + t), t = exp(-|e|) in (0, 1]: the logs are
        # taken of products of 256 factors 1 + t (each in (1, 2], so no overflow), one exp per
        # row and one log per block instead of a log per row
        prod = 1.0
        for i in range(N):
            e = eta[i]
            t = math.exp(-abs(e))
            inv = 1.0 / (1.0 + t)
            if n[i] == 1.0:
                prod *= 1.0 + t
            else:
                ll -= n[i] * math.log(1.0 + t)
            ll += y[i] * e - n[i] * max(e, 0.0)
            ge[i] = y[i] - n[i] * (inv if e >= 0.0 else t * inv)
            if (i & 255) == 255:
                ll -= math.log(prod)
                prod = 1.0
        ll -= math.log(prod)
    elif fcode == 3:  # poisson (log)
        for i in range(N):
            mu = math.exp(eta[i])
            ll += y[i] * eta[i] - mu
            ge[i] = y[i] - mu
    elif fcode == 0:  # gaussian, aux = sigma
        sigma = aux[0]
        prec = 1.0 / (sigma * sigma)
        ss = 0.0
        for i in range(N):
            d = y[i] - eta[i]
            ss += d * d
            ge[i] = d * prec
        ll = -0.5 * ss * prec - N * math.log(sigma)
        g_aux[0] += ss * prec / sigma - N / sigma
    elif fcode == 4:  # negbinomial NB2 (log), aux = shape: log(shape + mu) and mu / (shape + mu)
        shape = aux[0]
        la = math.log(shape)
        g = 0.0
        for i in range(N):
            e = eta[i]
            t = math.exp(-abs(la - e))
            inv = 1.0 / (1.0 + t)
            log_sum = max(la, e) + math.log(1.0 + t)
            w = inv if e >= la else t * inv
            ll += math.lgamma(y[i] + shape) + shape * (la - log_sum) + y[i] * (e - log_sum)
            ge[i] = y[i] - (shape + y[i]) * w
            g += digamma(y[i] + shape) + la - log_sum + 1.0 - (shape + y[i]) * (1.0 - w) / shape
        ll -= N * math.lgamma(shape)
        g_aux[0] += g - N * digamma(shape)
    elif fcode == 9:  # gamma (log), aux = shape a: a (log a - e) - lgamma(a) + a log y - a y exp(-e)
        a = aux[0]
        la = math.log(a)
        g = 0.0
        for i in range(N):  # n holds log y
            e = eta[i]
            t = y[i] * math.exp(-e)
            g += n[i] - e - t
            ge[i] = a * (t - 1.0)
        ll = a * (g + N * la) - N * math.lgamma(a)
        g_aux[0] += g + N * (la + 1.0 - digamma(a))
    elif fcode == 10:  # beta (logit), aux = phi: mu = sigmoid(e), shapes mu phi and (1 - mu) phi
        phi = aux[0]
        g = 0.0
        for i in range(N):
            e = eta[i]
            t = math.exp(-abs(e))
            mu = 1.0 / (1.0 + t) if e >= 0.0 else t / (1.0 + t)
            nu = t / (1.0 + t) if e >= 0.0 else 1.0 / (1.0 + t)  # 1 - mu without cancellation
            ly = y[i]  # log y
            l1y = n[i]  # log(1 - y)
            a = mu * phi
            b = nu * phi
            ll += a * ly + b * l1y - math.lgamma(a) - math.lgamma(b)
            da = ly - digamma(a)
            db = l1y - digamma(b)
            ge[i] = phi * mu * nu * (da - db)
            g += mu * da + nu * db
        ll += N * math.lgamma(phi)
        g_aux[0] += g + N * digamma(phi)
    elif fcode == 11:  # student, aux = (sigma, nu): z = (y - e) / sigma, q = z^2 / nu
        sigma, nu = aux[0], aux[1]
        h = 0.5 * (nu + 1.0)
        g_s = 0.0
        g_n = 0.0
        for i in range(N):
            z = (y[i] - eta[i]) / sigma
            q = z * z / nu
            lq = math.log1p(q)
            w = q / (1.0 + q)
            ll -= h * lq
            ge[i] = (nu + 1.0) * z / (sigma * nu * (1.0 + q))
            g_s += (nu + 1.0) * w
            g_n += h * w / nu - 0.5 * lq
        ll += N * (math.lgamma(h) - math.lgamma(0.5 * nu) - 0.5 * math.log(nu * math.pi) - math.log(sigma))
        g_aux[0] += (g_s - N) / sigma
        g_aux[1] += g_n + N * (0.5 * digamma(h) - 0.5 * digamma(0.5 * nu) - 0.5 / nu)
    elif fcode == 6:  # cumulative (logit), aux = the increasing cutpoints
        ll = _cumulative_logit(aux, y, eta, ge, g_aux)
    elif fcode == 7:  # cumulative (probit)
        ll = _cumulative_probit(aux, y, eta, ge, g_aux)
    else:  # fcode == 8: bernoulli, binomial (probit): y log Phi(e) + (n - y) log Phi(-e)
        for i in range(N):
            e = eta[i]
            g = 0.0
            if y[i] > 0.0:
                lp, dlp = log_ndtr_grad(e)
                ll += y[i] * lp
                g += y[i] * dlp
            if n[i] > y[i]:
                lp, dlp = log_ndtr_grad(-e)
                ll += (n[i] - y[i]) * lp
                g -= (n[i] - y[i]) * dlp
            ge[i] = g
    return ll


@_jit
def _cumulative_logit(c, y, eta, ge, g_c):
    """P(y = k) = F(a) - F(b), a = c_k - eta, b = c_{k-1} - eta, F the logistic CDF, as
    log F(a) + log(1 - F(b)) + log(1 - exp(b - a)) (no cancellation in either tail)."""
    K1 = c.shape[0]
    ll = 0.0
    for i in range(y.shape[0]):
        k = int(y[i])
        g_eta = 0.0
        if k < K1:  # log F(a); d/da = F(-a)
            lp, ga = log_sigmoid_grad(c[k] - eta[i])
            ll += lp
            g_c[k] += ga
            g_eta -= ga
        if k > 0:  # log(1 - F(b)) = log F(-b); d/db = -F(b)
            lp, gb = log_sigmoid_grad(eta[i] - c[k - 1])
            ll += lp
            g_c[k - 1] -= gb
            g_eta += gb
        if 0 < k < K1:  # log(1 - exp(-(a - b))), d/d(a - b) = 1 / expm1(a - b)
            d = c[k] - c[k - 1]
            ll += math.log(-math.expm1(-d))
            gd = 1.0 / math.expm1(d)
            g_c[k] += gd
            g_c[k - 1] -= gd
        ge[i] = g_eta
    return ll


@_jit
def _cumulative_probit(c, y, eta, ge, g_c):
    """P(y = k) = Phi(a) - Phi(b) as above with the normal CDF: below the middle as
    Phi(a) (1 - Phi(b) / Phi(a)), above it as Phi(-b) (1 - Phi(-a) / Phi(-b))."""
    K1 = c.shape[0]
    ll = 0.0
    for i in range(y.shape[0]):
        k = int(y[i])
        if k == 0:
            lp, ga = log_ndtr_grad(c[0] - eta[i])
            ll += lp
            g_c[0] += ga
            ge[i] = -ga
            continue
        b = c[k - 1] - eta[i]
        if k == K1:
            lp, gb = log_ndtr_grad(-b)
            ll += lp
            g_c[k - 1] -= gb
            ge[i] = gb
            continue
        a = c[k] - eta[i]
        if b > 0.0:
            hi, lo = log_ndtr(-b), log_ndtr(-a)
        else:
            hi, lo = log_ndtr(a), log_ndtr(b)
        lp = hi + math.log(-math.expm1(lo - hi))
        ll += lp
        ga = math.exp(-0.5 * a * a - LOG_2PI_HALF - lp)
        gb = -math.exp(-0.5 * b * b - LOG_2PI_HALF - lp)
        g_c[k] += ga
        g_c[k - 1] += gb
        ge[i] = -(ga + gb)
    return ll


@_jit
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
        else:
            for i in range(N):
                s = 0.0
                for c in range(k):
                    s += Zv[c0 + c, i] * R[gpos[f, i] + c]
                eta[i] += s
    ll = _loglik(fcode, aux, y, y2, eta, ge, g_aux)
    for f in range(fmeta.shape[0]):
        k = fmeta[f, 0]
        c0 = fmeta[f, 4]
        if fmeta[f, 8] == 1:
            for i in range(N):
                GR[gpos[f, i]] += ge[i]
        else:
            for i in range(N):
                for c in range(k):
                    GR[gpos[f, i] + c] += Zv[c0 + c, i] * ge[i]
    return ll


@_jit
def _crossed(
    v, eta, R, y, cmeta, csd_idx, cpc_idx, cpc_row, cpc_col, before, cZ, cindex, cZtZ, oindex, oZ, at, g_v
):
    """The Gaussian likelihood with one crossed factor integrated out (the collapsed rows
    kernel); its SDs' and CPCs' gradients into ``g_v``; returns (ll, d/deta, d/dR, d/dsigma)."""
    k, q0, nq = cmeta[0], cmeta[1], cmeta[2]
    L = np.zeros((k, k))
    fill_cholesky(v, cpc_idx, cpc_row, cpc_col, q0, nq, L, before)
    A_, Sigma = _covariance(v, csd_idx, 0, k, L)
    sigma = np.array(v[at])
    ll, g_eta, g_u, g_Sigma, g_sigma = _ROWS_KERNEL(eta, R, Sigma, sigma, y, cZ, cindex, cZtZ, oindex, oZ)
    gL = _covariance_grad(g_Sigma, A_, L, v, csd_idx, 0, g_v)
    if nq > 0:
        cholesky_grad(v, cpc_idx, cpc_row, cpc_col, q0, nq, L, gL, before, g_v)
    return ll.item(), g_eta, g_u, g_sigma.item()


@_jit
def _dot(a, b):
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


@_jit
def _meta(fmeta, f):
    m = fmeta[f]
    return m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7]


@_jit
def rows(x, grad, A):
    """A model with its group effects as parameters (:mod:`bayesmix.inference.native.rows`)."""
    code, par, _, theta_idx, XT, offset, y, y2, fam = A[:9]
    fmeta, sd_idx, cpc_idx, cpc_row, cpc_col, gpos, Zv, M = A[9:17]
    cmeta, csd_idx, cZ, cindex, cZtZ, oindex, oZ, pat = A[17:]
    n = x.shape[0]
    v = np.empty(n)
    g_v = np.zeros(n)
    total = constrain(code, x, v) + priors_of(code, par, v, g_v)
    p = theta_idx.shape[0]
    N = y.shape[0]
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
    # passes over the rows, each a tight loop: eta, the row densities, the gradients back
    eta = np.empty(N)
    if pat.shape[0] > 0:  # XT holds the distinct rows: eta is a gather from their values
        E = np.zeros(XT.shape[1])
        for a in range(p):
            t = theta[a]
            for u in range(XT.shape[1]):
                E[u] += XT[a, u] * t
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
    fcode = int(fam[0])
    n_aux = int(fam[3])
    if fcode == 5:
        ll, ge, GR, g_aux = _crossed(
            v,
            eta,
            R,
            y,
            cmeta,
            csd_idx,
            cpc_idx,
            cpc_row,
            cpc_col,
            before,
            cZ,
            cindex,
            cZtZ,
            oindex,
            oZ,
            aux_pos,
            g_v,
        )
    else:
        ge = np.empty(N)
        GR = np.zeros(M.shape[0])
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
        g_aux = 0.0
    g_theta = np.zeros(p)
    if pat.shape[0] > 0:  # scatter-add into the distinct rows (4 lanes, as the kernels' sums)
        nu = XT.shape[1]
        G = np.zeros((4, nu))
        for i in range(N):
            G[i & 3, pat[i]] += ge[i]
        for u in range(nu):
            s = (G[0, u] + G[1, u]) + (G[2, u] + G[3, u])
            for a in range(p):
                g_theta[a] += XT[a, u] * s
    else:
        for a in range(p):
            g_theta[a] = _dot(XT[a], ge)
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
