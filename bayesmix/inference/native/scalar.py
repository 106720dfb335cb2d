"""numba pieces every native density shares: priors, transforms, the CPC -> Cholesky map.

Compiled without fast-math and with numpy's error model (a division by zero gives inf or
NaN, which the densities turn into -inf, never a Python exception a cfunc would swallow).
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "prior",
    "constrain",
    "chain_rule",
    "fill_cholesky",
    "cholesky_grad",
    "digamma",
    "log_ndtr",
    "log_ndtr_grad",
    "log_sigmoid_grad",
]

_LOG_2 = math.log(2.0)
_LOG_PI = math.log(math.pi)
LOG_2PI_HALF = 0.5 * math.log(2.0 * math.pi)
_SQRT_HALF = math.sqrt(0.5)

_jit = numba.njit(fastmath=False, cache=False, error_model="numpy")


@_jit
def prior(d, v, a, b, c):
    """(log density, d/dvalue) of one element under prior code ``d`` with parameters a, b, c."""
    if d == 0:  # normal(mu=a, sigma=b)
        z = (v - a) / b
        return -0.5 * z * z - math.log(b) - LOG_2PI_HALF, -z / b
    if d == 1:  # student_t(nu=a, mu=b, sigma=c)
        z = (v - b) / c
        t = z * z / a
        lp = (
            math.lgamma(0.5 * (a + 1.0))
            - math.lgamma(0.5 * a)
            - 0.5 * math.log(a * math.pi)
            - math.log(c)
            - 0.5 * (a + 1.0) * math.log1p(t)
        )
        return lp, -(a + 1.0) * z / (c * a * (1.0 + t))
    if d == 2:  # cauchy(alpha=a, beta=b)
        z = (v - a) / b
        return -_LOG_PI - math.log(b) - math.log1p(z * z), -2.0 * z / (b * (1.0 + z * z))
    if d == 8 or d == 11:  # flat; or a density computed elsewhere
        return 0.0, 0.0
    if v < 0.0:
        return -np.inf, 0.0
    if d == 3:  # half_normal(sigma=a)
        z = v / a
        return 0.5 * math.log(2.0 / math.pi) - math.log(a) - 0.5 * z * z, -z / a
    if d == 4:  # half_student_t(nu=a, sigma=b)
        t = v * v / (a * b * b)
        lp = (
            _LOG_2
            + math.lgamma(0.5 * (a + 1.0))
            - math.lgamma(0.5 * a)
            - 0.5 * math.log(a * math.pi * b * b)
            - 0.5 * (a + 1.0) * math.log1p(t)
        )
        return lp, -(a + 1.0) * v / (a * b * b * (1.0 + t))
    if d == 5:  # half_cauchy(beta=a)
        z = v / a
        return _LOG_2 - _LOG_PI - math.log(a) - math.log1p(z * z), -2.0 * z / (a * (1.0 + z * z))
    if d == 6:  # exponential(lam=a)
        return math.log(a) - a * v, -a
    if d == 7:  # gamma(alpha=a, beta=b)
        return a * math.log(b) - math.lgamma(a) + (a - 1.0) * math.log(v) - b * v, (a - 1.0) / v - b
    if d == 9:  # half_flat
        return 0.0, 0.0
    # d == 10: beta(a, b) on (0, 1)
    if v > 1.0:
        return -np.inf, 0.0
    lp = (
        (a - 1.0) * math.log(v)
        + (b - 1.0) * math.log1p(-v)
        - (math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))
    )
    return lp, (a - 1.0) / v - (b - 1.0) / (1.0 - v)


@_jit
def constrain(code, x, v):
    """Constrained values ``v`` of ``x`` and the log-Jacobian's total; returns it."""
    logjac = 0.0
    for i in range(x.shape[0]):
        t = code[i, 0]
        if t == 0:
            v[i] = x[i]
        elif t == 1:
            v[i] = math.exp(x[i])
            logjac += x[i]
        elif t == 3:  # an ordered vector's first element
            v[i] = x[i]
        elif t == 4:  # an ordered vector's next element: the previous one plus exp(x)
            v[i] = v[i - 1] + math.exp(x[i])
            logjac += x[i]
        elif t == 5:  # variance shares: all the group's SDs (bayesmix.core.shares)
            logjac += _shares(code, x, v, i)
        elif t == 6:  # a variance share's log-ratio: its SD was set with the group's first element
            pass
        else:
            # PyMC's logodds: sigmoid, log-Jacobian log u + log(1 - u)
            a = x[i]
            e = math.exp(-abs(a))
            v[i] = 1.0 / (1.0 + e) if a >= 0.0 else e / (1.0 + e)
            logjac += -abs(a) - 2.0 * math.log1p(e)
    return logjac


@_jit
def _shares_size(code, i):
    """Elements of the variance-shares group starting at ``i``."""
    k = 1
    while i + k < code.shape[0] and code[i + k, 0] == 6:
        k += 1
    return k


@_jit
def _shares(code, x, v, i):
    """SDs ``sqrt(exp(x[i]) * softmax(x[i+1:i+K], 0))`` into ``v[i:i+K]``; the log-Jacobian."""
    k = _shares_size(code, i)
    top = 0.0
    for j in range(1, k):
        top = max(top, x[i + j])
    total = math.exp(-top)  # the reference share's exp(0 - top)
    for j in range(1, k):
        total += math.exp(x[i + j] - top)
    lse = top + math.log(total)
    logjac = 0.5 * k * x[i] - k * _LOG_2
    for j in range(k):
        log_share = (x[i + j + 1] if j < k - 1 else 0.0) - lse
        v[i + j] = math.exp(0.5 * (x[i] + log_share))
        logjac += 0.5 * log_share
    return logjac


@_jit
def _shares_grad(code, v, g_v, grad, i):
    """Back through :func:`_shares` (Jacobian included); ``grad`` may be ``g_v`` itself."""
    k = _shares_size(code, i)
    s = 0.0
    top = 0.0
    for j in range(k):
        s += g_v[i + j] * v[i + j]
        top = max(top, v[i + j])
    ss = 0.0  # the squares relative to the largest: no underflow of tiny SDs' squares to 0 / 0
    for j in range(k):
        ss += (v[i + j] / top) ** 2 if top > 0.0 else 1.0
    for j in range(k - 1, 0, -1):  # descending: each reads g_v[i + j - 1] before it is written
        share = (v[i + j - 1] / top) ** 2 / ss if top > 0.0 else 1.0 / k
        grad[i + j] = 0.5 * (g_v[i + j - 1] * v[i + j - 1] - share * s) + 0.5 * (1.0 - k * share)
    grad[i] = 0.5 * s + 0.5 * k


@_jit
def priors_of(code, par, v, g_v):
    """The priors' total log density; their gradients (d/dvalue) into ``g_v``."""
    total = 0.0
    for i in range(v.shape[0]):
        lp, dlp = prior(code[i, 1], v[i], par[i, 0], par[i, 1], par[i, 2])
        total += lp
        g_v[i] = dlp
    return total


@_jit
def chain_rule(code, v, g_v, grad):
    """The gradient in ``x`` from the gradient in the constrained values (Jacobians included).

    Last element first: an ordered vector's element moves every later one of its vector, so
    its gradient is the sum of theirs (``acc``)."""
    acc = 0.0
    for i in range(v.shape[0] - 1, -1, -1):
        t = code[i, 0]
        if t == 0:
            grad[i] = g_v[i]
        elif t == 1:
            grad[i] = g_v[i] * v[i] + 1.0
        elif t == 2:
            grad[i] = g_v[i] * v[i] * (1.0 - v[i]) + 1.0 - 2.0 * v[i]
        elif t == 4:
            acc += g_v[i]
            grad[i] = acc * (v[i] - v[i - 1]) + 1.0
        elif t == 5:
            _shares_grad(code, v, g_v, grad, i)
        elif t == 6:
            pass  # set by the group's first element, reached later (last element first)
        else:  # t == 3, the vector's first element
            grad[i] = acc + g_v[i]
            acc = 0.0


@_jit
def fill_cholesky(v, cpc_idx, cpc_row, cpc_col, q0, nq, L, before):
    """Cholesky factor ``L`` (k x k, zeroed) of the correlations from the CPCs ``q0 .. q0+nq``
    (:func:`bayesmix.core.linalg.cholesky_from_cpc`); ``before`` keeps each row's sum of
    squares before its entry, for :func:`cholesky_grad`."""
    k = L.shape[0]
    used = np.zeros(k)
    for q in range(q0, q0 + nq):
        r = cpc_row[q]
        before[q] = used[r]
        val = (2.0 * v[cpc_idx[q]] - 1.0) * math.sqrt(1.0 - used[r])
        L[r, cpc_col[q]] = val
        used[r] += val * val
    for r in range(k):
        L[r, r] = math.sqrt(1.0 - used[r])


@_jit
def cholesky_grad(v, cpc_idx, cpc_row, cpc_col, q0, nq, L, gL, before, g_v):
    """Back through :func:`fill_cholesky`, last entry first: adds d/dCPC to ``g_v``."""
    k = L.shape[0]
    g_used = np.zeros(k)
    for r in range(k):
        g_used[r] = -0.5 * gL[r, r] / L[r, r]
    for q in range(q0 + nq - 1, q0 - 1, -1):
        r = cpc_row[q]
        val = L[r, cpc_col[q]]
        g_val = gL[r, cpc_col[q]] + 2.0 * val * g_used[r]
        root = math.sqrt(1.0 - before[q])
        cpc = 2.0 * v[cpc_idx[q]] - 1.0
        g_v[cpc_idx[q]] += 2.0 * g_val * root
        g_used[r] += -0.5 * g_val * cpc / root


@_jit
def digamma(x):
    """The digamma function for x > 0 (recurrence to x >= 10, then the asymptotic series;
    absolute error below 1e-13)."""
    r = 0.0
    while x < 10.0:
        r -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    t = f * (-1.0 / 12 + f * (1.0 / 120 + f * (-1.0 / 252 + f * (1.0 / 240 + f * (-1.0 / 132)))))
    return r + math.log(x) - 0.5 / x + t


@_jit
def log_ndtr(x):
    """log of the standard normal CDF: for x > 0 as log1p(-Phi(-x)) (no loss near log 1), erfc
    for -30 <= x <= 0 (relative error of glibc's erfc), the asymptotic series below (its next
    term is below 2e-12 there)."""
    if x > 0.0:
        return math.log1p(-0.5 * math.erfc(x * _SQRT_HALF))
    if x >= -30.0:
        return math.log(0.5 * math.erfc(-x * _SQRT_HALF))
    f = 1.0 / (x * x)
    series = 1.0 + f * (-1.0 + f * (3.0 + f * (-15.0 + f * 105.0)))
    return -0.5 * x * x - math.log(-x) - LOG_2PI_HALF + math.log(series)


@_jit
def log_ndtr_grad(x):
    """(log Phi(x), d/dx log Phi(x) = phi(x) / Phi(x)), the log CDF computed once."""
    lp = log_ndtr(x)
    return lp, math.exp(-0.5 * x * x - LOG_2PI_HALF - lp)


@_jit
def log_sigmoid_grad(x):
    """(log F(x), d/dx log F(x) = F(-x)) for the logistic CDF F, with one exp."""
    t = math.exp(-abs(x))
    lp = min(x, 0.0) - math.log1p(t)
    return lp, (t / (1.0 + t) if x >= 0.0 else 1.0 / (1.0 + t))
