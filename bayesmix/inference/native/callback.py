"""The native log density and trace callbacks for nutpie, compiled once per machine.

Their source never changes with the model: a :class:`~bayesmix.inference.native.layout.Program`
passed through nutpie's user-data pointer says what to compute.  There is one log-density
callback per program kind and one trace callback for all (every kind's table starts with
``code``, ``par``, ``out_idx``).  They are compiled without fast-math (the same draws
whether compiled or loaded from numba's disk cache) under a key that includes the source
of everything they call and the collapsed kernels' version.
"""

from __future__ import annotations

import ctypes
import hashlib
import inspect

import numba
import numpy as np

from bayesmix.collapsed.kernels import cache_version
from bayesmix.inference.native import blocks, crossed, densities, families, nested, one_factor, rows, scalar
from bayesmix.inference.native.layout import Program, table
from bayesmix.inference.native.scalar import constrain

__all__ = ["callbacks", "evaluate", "KINDS"]

_SOURCE_VERSION = "3"

#: program kind -> (its array layout, its density)
KINDS = {
    "one_factor": (one_factor.ARRAYS, densities.one_factor),
    "rows": (rows.ARRAYS, densities.rows),
    "nested": (nested.ARRAYS, densities.nested),
}

#: nutpie's pointer intrinsic, set by :func:`callbacks` when nutpie is imported
_ptr = None


@numba.njit(fastmath=False, cache=False)
def _i1(t, at):
    return numba.carray(_ptr(t[at]), (t[at + 1],), np.int64)


@numba.njit(fastmath=False, cache=False)
def _i2(t, at):
    return numba.carray(_ptr(t[at]), (t[at + 1], t[at + 2]), np.int64)


@numba.njit(fastmath=False, cache=False)
def _f0(t, at):
    return numba.carray(_ptr(t[at]), (), np.float64)


@numba.njit(fastmath=False, cache=False)
def _i0(t, at):
    return numba.carray(_ptr(t[at]), (), np.int64)


@numba.njit(fastmath=False, cache=False)
def _f1(t, at):
    return numba.carray(_ptr(t[at]), (t[at + 1],), np.float64)


@numba.njit(fastmath=False, cache=False)
def _f2(t, at):
    return numba.carray(_ptr(t[at]), (t[at + 1], t[at + 2]), np.float64)


@numba.njit(fastmath=False, cache=False)
def _f3(t, at):
    return numba.carray(_ptr(t[at]), (t[at + 1], t[at + 2], t[at + 3]), np.float64)


def _one_factor_logp(dim, x_, out_, logp_, user_data_):
    t = numba.carray(user_data_, (one_factor.TABLE_LEN,), np.uint64)
    # positions in the table follow one_factor.ARRAYS (1 + ndim entries per array)
    A = (_i2(t, 0), _f2(t, 3), _i1(t, 6), _i1(t, 8), _i1(t, 10), _i1(t, 12), _i1(t, 14), _i1(t, 16))
    A = A + (_i1(t, 18), _i0(t, 20), _f0(t, 21), _f1(t, 22), _f2(t, 24), _f3(t, 27), _f3(t, 31), _f2(t, 35))
    if dim != t[1]:
        return -1
    return _finish(densities.one_factor, dim, x_, out_, logp_, A)


def _nested_logp(dim, x_, out_, logp_, user_data_):
    t = numba.carray(user_data_, (nested.TABLE_LEN,), np.uint64)
    # positions in the table follow nested.ARRAYS (1 + ndim entries per array)
    A = (_i2(t, 0), _f2(t, 3), _i1(t, 6), _i1(t, 8), _i1(t, 10), _i1(t, 12), _i1(t, 14), _i1(t, 16))
    A = A + (_i1(t, 18), _i2(t, 20), _f0(t, 23), _f3(t, 24), _i1(t, 28), _i1(t, 30), _i1(t, 32))
    if dim != t[1]:
        return -1
    return _finish(densities.nested, dim, x_, out_, logp_, A)


def _rows_logp(dim, x_, out_, logp_, user_data_):
    t = numba.carray(user_data_, (rows.TABLE_LEN,), np.uint64)
    # positions in the table follow rows.ARRAYS (1 + ndim entries per array)
    A = (_i2(t, 0), _f2(t, 3), _i1(t, 6), _i1(t, 8), _f2(t, 10), _f1(t, 13), _f1(t, 15), _f1(t, 17))
    A = A + (_f1(t, 19), _i2(t, 21), _i1(t, 24), _i1(t, 26), _i1(t, 28), _i1(t, 30), _i2(t, 32), _f2(t, 35))
    A = A + (_f2(t, 38), _i1(t, 41), _i1(t, 43), _i1(t, 45), _f2(t, 47), _f2(t, 50), _f3(t, 53), _i2(t, 57))
    A = A + (_f2(t, 60), _i2(t, 63), _i1(t, 66), _i1(t, 68), _i1(t, 70), _i1(t, 72), _f2(t, 74))
    A = A + (_f2(t, 77), _f2(t, 80), _f1(t, 83))
    if dim != t[1]:
        return -1
    return _finish(densities.rows, dim, x_, out_, logp_, A)


@numba.njit(fastmath=False, cache=False, error_model="numpy")
def _finish(density, dim, x_, out_, logp_, A):
    x = numba.carray(x_, (dim,))
    out = numba.carray(out_, (dim,))
    logp = numba.carray(logp_, ())
    val = density(x, out, A)
    logp[()] = val
    if not np.isfinite(val):
        return 4
    for i in range(dim):
        if not np.isfinite(out[i]):
            return 3
    return 0


def _expand(dim, expanded, x_, out_, user_data_):
    t = numba.carray(user_data_, (8,), np.uint64)
    code = _i2(t, 0)
    out_idx = _i1(t, 6)
    if dim != t[1] or expanded != t[7]:
        return -1
    x = numba.carray(x_, (dim,))
    out = numba.carray(out_, (expanded,))
    v = np.empty(dim)
    constrain(code, x, v)
    for i in range(expanded):
        j = out_idx[i]
        out[i] = x[j] if j < dim else v[j - dim]
    return 0


_LOGP = {"one_factor": _one_factor_logp, "rows": _rows_logp, "nested": _nested_logp}
_CALLBACKS: dict = {}


def callbacks(kind: str = "one_factor"):
    """The compiled (logp, expand) callbacks of a program kind, from numba's disk cache after
    the first time; ``kind="all"`` compiles every kind (installation) and returns None."""
    if kind == "all":
        for k in KINDS:
            callbacks(k)
        return None
    if kind in _CALLBACKS:
        return _CALLBACKS[kind], _CALLBACKS["expand"]
    from nutpie.compile_pymc import address_as_void_pointer
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    src = "".join(inspect.getsource(m) for m in (scalar, families, blocks, crossed, densities))
    src += "".join(inspect.getsource(fn) for fn in (*_LOGP.values(), _expand, _finish))
    key = hashlib.sha256(
        repr((_SOURCE_VERSION, src, cache_version(), numba.__version__)).encode()
    ).hexdigest()
    t = numba.types
    globals()["_ptr"] = address_as_void_pointer  # nutpie's intrinsic, imported with nutpie
    if "expand" not in _CALLBACKS:
        sig_expand = t.int64(t.uint64, t.uint64, t.CPointer(t.double), t.CPointer(t.double), t.voidptr)
        CACHED_SRC_FUNCTIONS[_expand] = f"bayesmix_native_expand_{key}"
        _CALLBACKS["expand"] = numba.cfunc(sig_expand, cache=True, error_model="numpy")(_expand)
    sig_logp = t.int64(t.uint64, t.CPointer(t.double), t.CPointer(t.double), t.CPointer(t.double), t.voidptr)
    CACHED_SRC_FUNCTIONS[_LOGP[kind]] = f"bayesmix_native_logp_{kind}_{key}"
    _CALLBACKS[kind] = numba.cfunc(sig_logp, cache=True, error_model="numpy")(_LOGP[kind])
    return _CALLBACKS[kind], _CALLBACKS["expand"]


def evaluate(prog: Program, x) -> tuple[float, np.ndarray]:
    """The program's log density and gradient at the unconstrained point ``x`` (through the
    compiled callback, as nutpie calls it)."""
    logp_c, _ = callbacks(prog.kind)
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
