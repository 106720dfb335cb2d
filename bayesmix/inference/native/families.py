"""The rows' log densities of the families the native rows kind knows, in numba.

:func:`row_loglik` sums them over the rows with d/deta per row (one tight loop per family);
the cumulative (ordinal) families have their own functions for the cutpoints' gradient.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from bayesmix.inference.native.scalar import LOG_2PI_HALF, digamma, log_ndtr, log_ndtr_grad, log_sigmoid_grad

__all__ = ["row_loglik", "cumulative_logit", "cumulative_probit"]

_jit = numba.njit(fastmath=False, cache=False, error_model="numpy")

# exp() as arithmetic that LLVM vectorises: libm's exp is a call per row (5 ns each here, a third
# of a crossed logit's gradient), and fast-math, which would vectorise it, changes the draws
# between a process that compiled the callback and one that loaded it.  exp(v) = p(r) 2^k with
# k = round(v / log 2), r = v - k log 2 (in two parts, Cody and Waite), |r| <= log(2) / 2 and p
# the Taylor polynomial of degree 13 (truncation < 2e-17 relative): within 1 ulp of libm's
# (1e6 points in [-708, 708]: 10% differ in the last bit; tests/inference/test_native.py).
# A crossed logit's gradient (7,500 rows): 98.6 -> 83.8 us.  Arguments are clamped to [-708, 710]: below,
# exp(v) < 3.3e-308 is returned as 3.3e-308 (it only ever enters as 1 + t or y - mu); above,
# the result is inf, as libm's.  NaN stays NaN.
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_EXP_C = tuple(1.0 / math.factorial(k) for k in range(2, 14))


@_jit
def _exp_split(v):
    """(p, bits): exp(v) = p * (bits as a float64), both computed without branches or calls."""
    if v < -708.0:
        v = -708.0
    if v > 710.0:
        v = 710.0
    k = math.floor(v * _LOG2E + 0.5)
    r = (v - k * _LN2_HI) - k * _LN2_LO
    c = _EXP_C
    p = c[11]
    for q in range(10, -1, -1):
        p = c[q] + r * p
    return 1.0 + r * (1.0 + r * p), (np.int64(k) + 1023) << 52


@_jit
def exp_rows(eta, sign, mant, bits):
    """exp(sign * eta) for sign 1, exp(-|eta|) for sign -1, as ``mant * bits.view(float64)``
    (two arrays written in one vectorised pass; the caller multiplies while reading them)."""
    if sign == 1:
        for i in range(eta.shape[0]):
            mant[i], bits[i] = _exp_split(eta[i])
    else:
        for i in range(eta.shape[0]):
            mant[i], bits[i] = _exp_split(-abs(eta[i]))


@_jit
def row_loglik(fcode, aux, y, n, eta, ge, g_aux):
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
        bits = np.empty(N, np.int64)
        exp_rows(eta, -1, ge, bits)  # t = exp(-|e|) = ge * scale, ge then overwritten row by row
        scale = bits.view(np.float64)
        for i in range(N):
            e = eta[i]
            t = ge[i] * scale[i]
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
        bits = np.empty(N, np.int64)
        exp_rows(eta, 1, ge, bits)
        scale = bits.view(np.float64)
        for i in range(N):
            mu = ge[i] * scale[i]
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
        ll = cumulative_logit(aux, y, eta, ge, g_aux)
    elif fcode == 7:  # cumulative (probit)
        ll = cumulative_probit(aux, y, eta, ge, g_aux)
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
def cumulative_logit(c, y, eta, ge, g_c):
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
def cumulative_probit(c, y, eta, ge, g_c):
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
