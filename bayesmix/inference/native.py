"""One compiled log density for every one-factor Gaussian model: no compile per model.

nutpie samples a PyMC model through a numba function that PyTensor generates from the
model's graph; numba compiles it afresh for every model structure, about 20 s of LLVM
work on this machine for sleepstudy's 69-node graph (``benchmarks/README.md``), while
the collapsed likelihood inside it is one kernel that is the same for every model.

For models whose group effects are integrated out with the one-factor strategy (any
number of varying coefficients, correlated or not, any priors of
:mod:`bayesmix.spec.priors`), this module describes the log density as a
:class:`Program` of numbers instead: per element of the unconstrained vector its
transform and prior, and where the population effects, SDs, canonical partial
correlations and sigma sit in it.  One numba callback (:func:`logp_callback`),
whose source never changes, evaluates any program; it is compiled once per machine
and loaded from numba's disk cache afterwards, so a new model structure costs
milliseconds.  The callback computes exactly the graph's density (same priors, same
transforms and Jacobians, the same collapsed kernel), checked against PyMC's compiled
log density and gradient in ``tests/inference/test_native.py``.

Anything :func:`program` does not recognise (another strategy, a prior or transform
it does not know, an unexpected graph) returns None and the model goes through
:mod:`bayesmix.inference.compiled` as before.
"""

from __future__ import annotations

import hashlib
import inspect
import math
from dataclasses import dataclass

import numba
import numpy as np

from bayesmix.collapsed.kernels import cache_version, kernels
from bayesmix.core import names
from bayesmix.core.slots import DATA_PREFIX
from bayesmix.inference.compiled import _CachedCompiledModel, _initial_points

__all__ = ["Program", "program", "compile_program", "evaluate", "DISTS", "TRANSFORMS"]

#: prior codes (the order of a prior's parameters is that of :data:`bayesmix.spec.priors.DISTRIBUTIONS`)
DISTS = {
    "normal": 0,
    "student_t": 1,
    "cauchy": 2,
    "half_normal": 3,
    "half_student_t": 4,
    "half_cauchy": 5,
    "exponential": 6,
    "gamma": 7,
    "flat": 8,
    "half_flat": 9,
    "beta": 10,
}
#: PyMC random variable class -> prior
_RV_DIST = {
    "NormalRV": "normal",
    "StudentTRV": "student_t",
    "CauchyRV": "cauchy",
    "HalfNormalRV": "half_normal",
    "HalfStudentTRV": "half_student_t",
    "HalfCauchyRV": "half_cauchy",
    "ExponentialRV": "exponential",
    "GammaRV": "gamma",
    "FlatRV": "flat",
    "HalfFlatRV": "half_flat",
    "BetaRV": "beta",
}
#: transform codes
TRANSFORMS = {None: 0, "LogTransform": 1, "LogOddsTransform": 2}
_N_PARAMS = {"normal": 2, "student_t": 3, "cauchy": 2, "half_normal": 1, "half_student_t": 2}
_N_PARAMS |= {"half_cauchy": 1, "exponential": 1, "gamma": 2, "flat": 0, "half_flat": 0, "beta": 2}


@dataclass(frozen=True)
class Program:
    """A one-factor collapsed Gaussian model as numbers for :func:`logp_callback`.

    Attributes
    ----------
    arrays : tuple of ndarray
        In :data:`_ARRAYS` order: ``code`` (n, 2: transform, prior), ``par`` (n, 3: prior
        parameters), ``theta_idx`` (p: element of the vector holding each entry of
        ``[Intercept_c, slopes]``), ``sd_idx`` (k), ``cpc_idx``, ``cpc_row``, ``cpc_col``
        (one per canonical partial correlation, in the order the Cholesky factor is filled),
        ``sigma_idx`` (1) and the sufficient statistics ``N, yty, Dty, DtD, ZtZ, ZtD, Zty``.
    free : list of (name, shape)
        The free value variables in the unconstrained vector's order (nutpie's layout).
    expanded : list of (name, shape, indices)
        What the trace stores: name, shape and positions in ``[x, constrained x]``.
    """

    arrays: tuple
    free: list
    expanded: list

    @property
    def n_dim(self) -> int:
        return int(self.arrays[0].shape[0])


_ARRAYS = (
    ("code", 2, "int64"),
    ("par", 2, "float64"),
    ("theta_idx", 1, "int64"),
    ("sd_idx", 1, "int64"),
    ("cpc_idx", 1, "int64"),
    ("cpc_row", 1, "int64"),
    ("cpc_col", 1, "int64"),
    ("sigma_idx", 1, "int64"),
    ("N", 0, "int64"),
    ("yty", 0, "float64"),
    ("Dty", 1, "float64"),
    ("DtD", 2, "float64"),
    ("ZtZ", 3, "float64"),
    ("ZtD", 3, "float64"),
    ("Zty", 2, "float64"),
    ("out_idx", 1, "int64"),
)


class _Unsupported(Exception):
    pass


def program(built, design, keep) -> Program | None:
    """The :class:`Program` of a built model, or None when the model is not one it covers.

    Parameters
    ----------
    built : BuiltModel
        With its group effects integrated out.
    design : Design
        The design it was built from.
    keep : list of str
        The variables the trace stores (free variables only are supported).
    """
    try:
        return _program(built, design, keep)
    except _Unsupported:
        return None


def _program(built, design, keep) -> Program:
    ss = built.collapsed
    if ss is None or getattr(ss, "strategy", "") != "one_factor":
        raise _Unsupported
    model = built.model
    if model.deterministics and any(d.name in keep for d in model.deterministics):
        raise _Unsupported
    if [p.name for p in model.potentials] != ["collapsed_loglik"] or model.observed_RVs:
        raise _Unsupported
    shared = _shared_values(model)
    shapes = model.initial_point()
    offsets: dict[str, int] = {}
    code, par, free = [], [], []
    pos = 0
    for rv in model.free_RVs:
        value = model.rvs_to_values[rv]
        dist = _RV_DIST.get(type(rv.owner.op).__name__)
        tr = model.rvs_to_transforms.get(rv)
        tname = None if tr is None else type(tr).__name__
        if dist is None or tname not in TRANSFORMS:
            raise _Unsupported
        shape = tuple(np.shape(shapes[value.name]))
        size = int(np.prod(shape, dtype=int))
        params = _prior_params(rv.name, dist, shared, size)
        for e in range(size):
            code.append((TRANSFORMS[tname], DISTS[dist]))
            par.append([*(p[e] for p in params), *([0.0] * (3 - len(params)))])
        free.append((value.name, shape, rv.name, tname is not None))
        offsets[rv.name] = pos
        pos += size
    n = pos

    def where(vector: str, length: int) -> np.ndarray:
        out = np.full(length, -1, dtype=np.int64)
        for rv_name, idx in built.parts.get(vector, ()):
            if rv_name not in offsets:
                raise _Unsupported
            out[np.asarray(idx, dtype=int)] = offsets[rv_name] + np.arange(len(idx))
        if (out < 0).any():
            raise _Unsupported
        return out

    if len(design.factors) != 1:
        raise _Unsupported
    f = design.factors[0]
    k = ss.ZtZ.shape[1]
    p = ss.ZtD.shape[2]
    if ss.has_intercept:
        if names.INTERCEPT_C not in offsets:
            raise _Unsupported
        theta = [np.array([offsets[names.INTERCEPT_C]])]
        if p > 1:
            theta.append(where(names.SLOPES, p - 1))
        theta_idx = np.concatenate(theta)
    else:
        theta_idx = where(names.B, p)
    sd_idx = where(names.sd_var(f.name), k)
    sigma_idx = where(names.SIGMA, 1)
    cpc_idx, cpc_row, cpc_col = [], [], []
    if f.cor_pairs():
        cpc = names.cpc_var(f.name)
        if cpc not in offsets:
            raise _Unsupported
        q = 0
        for block in f.correlated_blocks:
            for ii in range(1, len(block)):
                for jj in range(ii):
                    cpc_idx.append(offsets[cpc] + q)
                    cpc_row.append(block[ii])
                    cpc_col.append(block[jj])
                    q += 1
    elif len(f.coefs) != k:
        raise _Unsupported

    expanded = []
    out_idx = []
    for value_name, shape, _, _ in free:
        size = int(np.prod(shape, dtype=int))
        start = len(out_idx)
        i0 = _offset_of(free, value_name)
        out_idx.extend(range(i0, i0 + size))
        expanded.append((value_name, shape, slice(start, len(out_idx))))
    for value_name, shape, rv_name, transformed in free:
        if transformed and rv_name in keep:
            size = int(np.prod(shape, dtype=int))
            start = len(out_idx)
            i0 = _offset_of(free, value_name)
            out_idx.extend(range(n + i0, n + i0 + size))
            expanded.append((rv_name, shape, slice(start, len(out_idx))))

    ints = lambda a: np.ascontiguousarray(np.asarray(a, dtype=np.int64))  # noqa: E731
    floats = lambda a: np.ascontiguousarray(np.asarray(a, dtype=np.float64))  # noqa: E731
    arrays = (
        ints(code).reshape(n, 2),
        floats(par).reshape(n, 3),
        ints(theta_idx),
        ints(sd_idx),
        ints(cpc_idx),
        ints(cpc_row),
        ints(cpc_col),
        ints(sigma_idx),
        np.array(int(ss.N), dtype=np.int64),
        np.array(float(ss.yty)),
        floats(ss.Dty),
        floats(ss.DtD),
        floats(ss.ZtZ),
        floats(ss.ZtD),
        floats(ss.Zty),
        ints(out_idx),
    )
    for arr in arrays:
        arr.flags.writeable = False
    return Program(arrays=arrays, free=[(a, b) for a, b, _, _ in free], expanded=expanded)


def _offset_of(free, value_name: str) -> int:
    pos = 0
    for name, shape, _, _ in free:
        if name == value_name:
            return pos
        pos += int(np.prod(shape, dtype=int))
    raise _Unsupported


def _shared_values(model) -> dict:
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.traversal import ancestors

    return {
        v.name: np.asarray(v.get_value())
        for v in ancestors([model.logp()])
        if isinstance(v, SharedVariable) and v.name
    }


def _prior_params(rv_name: str, dist: str, shared: dict, size: int) -> list:
    """The prior's parameters, broadcast to the variable's size, from the graph's named data slots."""
    count = _N_PARAMS[dist]
    if dist == "beta":  # the CPCs' Beta(a, a) (:func:`bayesmix.core.linalg.cpc_beta_params`)
        factor = rv_name.removeprefix(f"{names.INTERNAL_PREFIX}cpc_")
        key = f"{DATA_PREFIX}cpc_{factor}.beta"
        if key not in shared:
            raise _Unsupported
        a = np.broadcast_to(shared[key].astype(float), (size,))
        return [a, a]
    out = []
    for i in range(count):
        key = f"{DATA_PREFIX}{rv_name}.{i}"
        if key not in shared:
            raise _Unsupported
        out.append(np.broadcast_to(shared[key].astype(float), (size,)))
    return out


# ------------------------------------------------------------------------------- the callback
#
# The functions below are compiled by numba (no fast-math: the same draws whether compiled or
# loaded from the cache).  ``prior`` returns (log density, d/dvalue) of one element.

_LOG_2PI_HALF = 0.5 * math.log(2.0 * math.pi)
_LOG_2 = math.log(2.0)
_LOG_PI = math.log(math.pi)


@numba.njit(fastmath=False, cache=False)
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


@numba.njit(fastmath=False, cache=False)
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


@numba.njit(fastmath=False, cache=False)
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
        return total
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


#: entries of the pointer table: per array its address and its shape
TABLE_LEN = sum(1 + ndim for _, ndim, _ in _ARRAYS)
_SOURCE_VERSION = "1"


def table(prog: Program) -> np.ndarray:
    """The flat uint64 table of the program's array addresses and shapes (keep ``prog`` alive)."""
    out = []
    for arr in prog.arrays:
        out.append(arr.ctypes.data)
        out.extend(arr.shape)
    return np.array(out, dtype=np.uint64)


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
    _CALLBACKS["logp"] = numba.cfunc(sig_logp, cache=True)(logp_callback)
    _CALLBACKS["expand"] = numba.cfunc(sig_expand, cache=True)(expand_callback)
    return _CALLBACKS["logp"], _CALLBACKS["expand"]


def evaluate(prog: Program, x) -> tuple[float, np.ndarray]:
    """The program's log density and gradient at the unconstrained point ``x`` (through the
    compiled callback, as nutpie calls it)."""
    import ctypes

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


def compile_program(model, prog: Program):
    """nutpie's compiled model for ``prog`` (the PyMC ``model`` gives starting points, dims, coords)."""
    from nutpie import compile_pymc as ncp

    logp_c, expand_c = callbacks()
    names_, slices, shapes = [], [], []
    for name, shape, sl in prog.expanded:
        names_.append(name)
        slices.append(sl)
        shapes.append(shape)
    shape_info = (names_, slices, shapes)
    point_fn = ncp._rv_dict_to_flat_array_wrapper(
        _initial_points(model), names=[n for n, _ in prog.free], shapes=[s for _, s in prog.free]
    )
    reparameterized = [
        model.rvs_to_values[rv].name for rv in model.free_RVs if model.rvs_to_transforms.get(rv) is not None
    ]
    dims, coords = ncp._prepare_dims_and_coords(model, shape_info, reparameterized)
    keep = {f"native{i}": arr for i, arr in enumerate(prog.arrays)}
    return _CachedCompiledModel(
        _n_dim=prog.n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info, strict=True)},
        compiled_logp_func=logp_c,
        compiled_expand_func=expand_c,
        initial_point_func=point_fn,
        shared_data=keep,
        shared_var_keys={},
        user_data=table(prog),
        n_expanded=int(prog.arrays[-1].shape[0]),
        shape_info=shape_info,
        logp_func=None,
        expand_func=None,
        reparameterized_names=reparameterized,
    )
