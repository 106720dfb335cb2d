"""The native log density and trace callbacks for nutpie, compiled once per machine.

Their source never changes with the model: a :class:`~bayesmix.inference.native.program.Program`
passed through nutpie's user-data pointer says what to compute.  They are compiled without
fast-math (the same draws whether compiled or loaded from numba's disk cache) under a key
that includes their source and the collapsed kernels' version.
"""

from __future__ import annotations

import ctypes
import hashlib
import inspect
import math

import numba
import numpy as np

from bayesmix.collapsed.kernels import cache_version, kernels
from bayesmix.inference.native.program import TABLE_LEN, Program, table

__all__ = ["callbacks", "evaluate", "logp_callback", "expand_callback"]

_SOURCE_VERSION = "2"

# ------------------------------------------------------------------------------- the callback
#
# The functions below are compiled by numba (no fast-math: the same draws whether compiled or
# loaded from the cache).  ``prior`` returns (log density, d/dvalue) of one element.

_LOG_2PI_HALF = 0.5 * math.log(2.0 * math.pi)
_LOG_2 = math.log(2.0)
_LOG_PI = math.log(math.pi)


@numba.njit(fastmath=False, cache=False, error_model="numpy")
def _prior(d, v, a, b, c):
    if d == 0:  # normal(mu=a, sigma=b)
        z = (v - a) / b
        return -0.5 * z * z - math.log(b) - _LOG_2PI_HALF, -z / b
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
    if d == 8:  # flat
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


@numba.njit(fastmath=False, cache=False, error_model="numpy")
def _constrain(code, x, v):
    """Constrained values ``v`` of ``x`` and the log-Jacobian's total; returns it."""
    logjac = 0.0
    for i in range(x.shape[0]):
        t = code[i, 0]
        if t == 0:
            v[i] = x[i]
        elif t == 1:
            v[i] = math.exp(x[i])
            logjac += x[i]
        else:
            # PyMC's logodds: sigmoid, log-Jacobian log u + log(1 - u)
            a = x[i]
            e = math.exp(-abs(a))
            v[i] = 1.0 / (1.0 + e) if a >= 0.0 else e / (1.0 + e)
            logjac += -abs(a) - 2.0 * math.log1p(e)
    return logjac


@numba.njit(fastmath=False, cache=False, error_model="numpy")
def _density(
    x,
    grad,
    code,
    par,
    theta_idx,
    sd_idx,
    cpc_idx,
    cpc_row,
    cpc_col,
    sigma_idx,
    N,
    yty,
    Dty,
    DtD,
    ZtZ,
    ZtD,
    Zty,
):
    n = x.shape[0]
    v = np.empty(n)
    total = _constrain(code, x, v)
    g_v = np.zeros(n)
    for i in range(n):
        lp, dlp = _prior(code[i, 1], v[i], par[i, 0], par[i, 1], par[i, 2])
        total += lp
        g_v[i] = dlp
    p = theta_idx.shape[0]
    k = sd_idx.shape[0]
    theta = np.empty(p)
    for a in range(p):
        theta[a] = v[theta_idx[a]]
    # Cholesky factor of the correlations from the CPCs (bayesmix.core.linalg.cholesky_from_cpc)
    L = np.zeros((k, k))
    used = np.zeros(k)
    m = cpc_idx.shape[0]
    before = np.empty(m)
    for q in range(m):
        r = cpc_row[q]
        before[q] = used[r]
        val = (2.0 * v[cpc_idx[q]] - 1.0) * math.sqrt(1.0 - used[r])
        L[r, cpc_col[q]] = val
        used[r] += val * val
    for r in range(k):
        L[r, r] = math.sqrt(1.0 - used[r])
    A = np.empty((k, k))
    for a in range(k):
        for c in range(k):
            A[a, c] = v[sd_idx[a]] * L[a, c]
    Sigma = np.empty((k, k))
    for a in range(k):
        for c in range(k):
            s = 0.0
            for q in range(k):
                s += A[a, q] * A[c, q]
            Sigma[a, c] = s
    sigma = np.array(v[sigma_idx[0]])
    ll, g_theta, g_Sigma, g_sigma = _KERNEL(theta, Sigma, sigma, N, yty, Dty, DtD, ZtZ, ZtD, Zty)
    total += ll.item()
    if not np.isfinite(total):
        return -np.inf  # outside the support or a singular covariance (NaN included)
    for a in range(p):
        g_v[theta_idx[a]] += g_theta[a]
    g_v[sigma_idx[0]] += g_sigma.item()
    # Sigma = A A': dA = (G + G') A; A = diag(sd) L
    gL = np.zeros((k, k))
    for a in range(k):
        for c in range(k):
            s = 0.0
            for q in range(k):
                s += (g_Sigma[a, q] + g_Sigma[q, a]) * A[q, c]
            g_v[sd_idx[a]] += s * L[a, c]
            gL[a, c] = s * v[sd_idx[a]]
    # back through the CPC fill, last entry first
    g_used = np.zeros(k)
    for r in range(k):
        g_used[r] = -0.5 * gL[r, r] / L[r, r]
    for q in range(m - 1, -1, -1):
        r = cpc_row[q]
        val = L[r, cpc_col[q]]
        g_val = gL[r, cpc_col[q]] + 2.0 * val * g_used[r]
        root = math.sqrt(1.0 - before[q])
        cpc = 2.0 * v[cpc_idx[q]] - 1.0
        g_v[cpc_idx[q]] += 2.0 * g_val * root
        g_used[r] += -0.5 * g_val * cpc / root
    for i in range(n):
        t = code[i, 0]
        if t == 0:
            grad[i] = g_v[i]
        elif t == 1:
            grad[i] = g_v[i] * v[i] + 1.0
        else:
            grad[i] = g_v[i] * v[i] * (1.0 - v[i]) + 1.0 - 2.0 * v[i]
    return total


_KERNEL = kernels()["loglik"]
#: nutpie's pointer intrinsic, set by :func:`callbacks` when nutpie is imported
_ptr = None


def logp_callback(dim, x_, out_, logp_, user_data_):
    table = numba.carray(user_data_, (TABLE_LEN,), np.uint64)
    code = numba.carray(_ptr(table[0]), (table[1], table[2]), np.int64)
    par = numba.carray(_ptr(table[3]), (table[4], table[5]), np.float64)
    theta_idx = numba.carray(_ptr(table[6]), (table[7],), np.int64)
    sd_idx = numba.carray(_ptr(table[8]), (table[9],), np.int64)
    cpc_idx = numba.carray(_ptr(table[10]), (table[11],), np.int64)
    cpc_row = numba.carray(_ptr(table[12]), (table[13],), np.int64)
    cpc_col = numba.carray(_ptr(table[14]), (table[15],), np.int64)
    sigma_idx = numba.carray(_ptr(table[16]), (table[17],), np.int64)
    N = numba.carray(_ptr(table[18]), (), np.int64)
    yty = numba.carray(_ptr(table[19]), (), np.float64)
    Dty = numba.carray(_ptr(table[20]), (table[21],), np.float64)
    DtD = numba.carray(_ptr(table[22]), (table[23], table[24]), np.float64)
    ZtZ = numba.carray(_ptr(table[25]), (table[26], table[27], table[28]), np.float64)
    ZtD = numba.carray(_ptr(table[29]), (table[30], table[31], table[32]), np.float64)
    Zty = numba.carray(_ptr(table[33]), (table[34], table[35]), np.float64)
    if dim != table[1]:
        return -1
    x = numba.carray(x_, (dim,))
    out = numba.carray(out_, (dim,))
    logp = numba.carray(logp_, ())
    val = _density(
        x,
        out,
        code,
        par,
        theta_idx,
        sd_idx,
        cpc_idx,
        cpc_row,
        cpc_col,
        sigma_idx,
        N,
        yty,
        Dty,
        DtD,
        ZtZ,
        ZtD,
        Zty,
    )
    logp[()] = val
    if not np.isfinite(val):
        return 4
    for i in range(dim):
        if not np.isfinite(out[i]):
            return 3
    return 0


def expand_callback(dim, expanded, x_, out_, user_data_):
    table = numba.carray(user_data_, (TABLE_LEN,), np.uint64)
    code = numba.carray(_ptr(table[0]), (table[1], table[2]), np.int64)
    out_idx = numba.carray(_ptr(table[36]), (table[37],), np.int64)
    if dim != table[1] or expanded != table[37]:
        return -1
    x = numba.carray(x_, (dim,))
    out = numba.carray(out_, (expanded,))
    v = np.empty(dim)
    _constrain(code, x, v)
    for i in range(expanded):
        j = out_idx[i]
        out[i] = x[j] if j < dim else v[j - dim]
    return 0


_CALLBACKS: dict = {}


def callbacks():
    """The two compiled callbacks (logp, expand), from numba's disk cache after the first time."""
    if _CALLBACKS:
        return _CALLBACKS["logp"], _CALLBACKS["expand"]
    from nutpie.compile_pymc import address_as_void_pointer
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    src = inspect.getsource(_density) + inspect.getsource(_prior) + inspect.getsource(_constrain)
    src += inspect.getsource(logp_callback) + inspect.getsource(expand_callback)
    key = hashlib.sha256(
        repr((_SOURCE_VERSION, src, cache_version(), numba.__version__, TABLE_LEN)).encode()
    ).hexdigest()
    t = numba.types
    globals()["_ptr"] = address_as_void_pointer  # nutpie's intrinsic, imported with nutpie
    sig_logp = t.int64(t.uint64, t.CPointer(t.double), t.CPointer(t.double), t.CPointer(t.double), t.voidptr)
    sig_expand = t.int64(t.uint64, t.uint64, t.CPointer(t.double), t.CPointer(t.double), t.voidptr)
    CACHED_SRC_FUNCTIONS[logp_callback] = f"bayesmix_native_logp_{key}"
    CACHED_SRC_FUNCTIONS[expand_callback] = f"bayesmix_native_expand_{key}"
    _CALLBACKS["logp"] = numba.cfunc(sig_logp, cache=True, error_model="numpy")(logp_callback)
    _CALLBACKS["expand"] = numba.cfunc(sig_expand, cache=True, error_model="numpy")(expand_callback)
    return _CALLBACKS["logp"], _CALLBACKS["expand"]


def evaluate(prog: Program, x) -> tuple[float, np.ndarray]:
    """The program's log density and gradient at the unconstrained point ``x`` (through the
    compiled callback, as nutpie calls it)."""
    logp_c, _ = callbacks()
    x = np.ascontiguousarray(x, dtype=np.float64)
    grad = np.zeros_like(x)
    logp = np.zeros(())
    tab = table(prog)
    ptr = ctypes.POINTER(ctypes.c_double)
    code = logp_c.ctypes(
        len(x), x.ctypes.data_as(ptr), grad.ctypes.data_as(ptr), logp.ctypes.data_as(ptr), tab.ctypes.data
    )
    if code not in (0, 3, 4):
        raise RuntimeError(f"the native log density failed (code {code})")
    return float(logp), grad
