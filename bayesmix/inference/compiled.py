"""Compile a PyMC model for nutpie so that a fresh process reuses the machine code.

``nutpie.compile_pymc_model`` compiles the log density with PyTensor's numba
backend (whose kernels numba caches on disk) and then wraps it in two numba
``cfunc`` callbacks.  Those wrappers are closures over the model's data, which
numba will not cache, so every new process spends ~8 s of LLVM work on them
even when everything under them is cached.  Here the same two callbacks are
generated as source that depends only on the model's *structure* (its
PyTensor cache keys, the number of parameters and the rank and dtype of each
data array); the data are passed by pointer at run time.  The callbacks are
cached on disk through PyTensor's numba cache locator under a key built from
that structure, so a second process with the same model, or the same model on
new data, loads them in milliseconds.

The result is nutpie's own ``CompiledPyMCModel`` (so ``nutpie.sample`` and
``with_data`` work unchanged).  Anything this module cannot key (a graph
PyTensor does not cache, an unexpected nutpie version) falls back to
``nutpie.compile_pymc_model``.

The cached path uses nutpie helpers that are not public API (:data:`PRIVATE_HELPERS`);
``pyproject.toml`` bounds nutpie to the tested minor release, and
:func:`private_api_available` sends any other release (or a missing helper) down the
public path, which compiles every model afresh but samples the same draws.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import warnings
from uuid import uuid4

import numpy as np
import pytensor

from bayesmix.core import names

__all__ = [
    "CompileCache",
    "DEFAULT_CACHE",
    "compile_nutpie",
    "structure_key",
    "private_api_available",
    "value_shapes",
]

#: nutpie's non-public helpers the cached path calls (in ``nutpie.compile_pymc``)
PRIVATE_HELPERS = (
    "_make_functions",
    "_prepare_dims_and_coords",
    "_rv_dict_to_flat_array_wrapper",
    "_wrap_with_lock",
    "address_as_void_pointer",
    "CompiledPyMCModel",
)
#: nutpie minor releases the cached path was tested with (``pyproject.toml`` pins the same range)
TESTED_NUTPIE = ((0, 16), (0, 17))


def private_api_available() -> bool:
    """Whether this nutpie is a tested release with every helper of :data:`PRIVATE_HELPERS`."""
    import nutpie
    from nutpie import compile_pymc as ncp

    try:
        version = tuple(int(p) for p in nutpie.__version__.split(".")[:2])
    except ValueError:
        return False
    lo, hi = TESTED_NUTPIE
    return lo <= version < hi and all(hasattr(ncp, name) for name in PRIVATE_HELPERS)


#: bump when the generated source changes, so stale cache entries are not loaded
_SOURCE_VERSION = "3"


class CompileCache:
    """Compiled nutpie models of this process, by model structure (a small LRU).

    A model whose log density has the same graph as one compiled earlier (same
    operations, same shapes, numbers differing only in its data inputs, see
    :func:`bayesmix.core.slots.data_slot`) gets that compiled function with its own
    data swapped in (``with_data``); otherwise it is compiled, with callbacks numba
    caches on disk.  Fits use :data:`DEFAULT_CACHE` unless given another one (for
    example a fresh one to force a compile).

    Parameters
    ----------
    max_kept : int
        Compiled models kept, least recently used dropped first.
    """

    def __init__(self, max_kept: int = 8, private: bool | None = None):
        self.max_kept = max_kept
        #: use nutpie's private helpers (reuse across data, cached callbacks); None: when available
        self.private = private_api_available() if private is None else bool(private)
        self._by_structure: dict[str, object] = {}
        #: compiles avoided by reuse
        self.reused = 0

    def __contains__(self, key: str) -> bool:
        return key in self._by_structure

    def __len__(self) -> int:
        return len(self._by_structure)

    def clear(self) -> None:
        """Forget every compiled model (the disk cache of numba stays)."""
        self._by_structure.clear()

    def compile(self, model, var_names=None):
        """Compile ``model`` for ``nutpie.sample``, reusing an earlier compile of the same structure.

        Parameters
        ----------
        model : pymc.Model
        var_names : list of str, optional
            Variables to store in the trace (all by default).

        Returns
        -------
        nutpie.compile_pymc.CompiledPyMCModel
        """
        if not self.private:
            return _compile(model, var_names, private=False)
        logp = model.logp()
        key = structure_key(model, var_names, logp=logp)
        done = self._by_structure.pop(key, None)
        if done is not None:
            try:
                compiled = _rebind(done, model, logp)
            except (KeyError, ValueError):
                compiled = None
            if compiled is not None:
                self._by_structure[key] = done
                self.reused += 1
                return compiled
        compiled = _compile(model, var_names)
        self._by_structure[key] = _Entry(compiled, model)
        while len(self._by_structure) > self.max_kept:
            self._by_structure.pop(next(iter(self._by_structure)))
        return compiled

    def __getstate__(self):
        # compiled functions hold numba callbacks and pointers: a copy of a cache starts empty
        return {"max_kept": self.max_kept, "private": self.private, "_by_structure": {}, "reused": 0}


#: the cache fits use by default
DEFAULT_CACHE = CompileCache()


def compile_nutpie(model, var_names=None, cache: CompileCache | None = None):
    """Compile ``model`` for nutpie through ``cache`` (default :data:`DEFAULT_CACHE`)."""
    return (cache if cache is not None else DEFAULT_CACHE).compile(model, var_names)


def structure_key(model, var_names=None, logp=None) -> str:
    """A hash of the model's log-density graph with its shared inputs reduced to name and type.

    Two models with the same key have the same compiled function up to the
    values of their shared variables: operations, constants, shapes of the free
    variables and the variables stored are all part of the key.
    """
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.basic import Constant
    from pytensor.graph.traversal import io_toposort

    value_vars = [model.rvs_to_values[rv] for rv in model.free_RVs]
    logp = model.logp() if logp is None else logp
    nodes = io_toposort([], [logp])
    ids: dict = {}
    h = hashlib.sha256()

    def ref(var) -> str:
        if var in ids:
            return ids[var]
        if isinstance(var, SharedVariable):
            r = f"shared:{var.name}:{var.type}"
        elif isinstance(var, Constant):
            data = np.asarray(var.data)
            r = f"const:{var.type}:{hashlib.sha256(data.tobytes()).hexdigest()}:{data.shape}"
        else:
            r = f"input:{var.name}:{var.type}"
        ids[var] = r
        return r

    for i, node in enumerate(nodes):
        op = node.op
        props = getattr(op, "__props__", None)
        desc = (
            repr((type(op).__qualname__, tuple((p, str(getattr(op, p))) for p in props)))
            if props
            else repr(op)
        )
        h.update(f"{i}|{desc}|{[ref(v) for v in node.inputs]}\n".encode())
        for j, out in enumerate(node.outputs):
            ids[out] = f"node{i}.{j}"
    h.update(repr(sorted(value_shapes(model).items())).encode())
    h.update(repr([(v.name, str(v.type)) for v in value_vars]).encode())
    h.update(repr(sorted(var_names) if var_names is not None else None).encode())
    return h.hexdigest()


def value_shapes(model) -> dict[str, tuple[int, ...]]:
    """The shape of each free variable's (unconstrained) value, by value name.

    Read from the variables' static shapes and their dims' coordinates, so no PyTensor
    function is compiled: ``model.initial_point()`` compiles one (0.15-0.3 s a fit here,
    the first in a process also importing PyTensor's C linker), which a warm sleepstudy
    fit paid twice for shapes alone.  Every transform the package uses (log, log-odds,
    interval, ordered, variance shares) keeps the shape.  Falls back to the initial point when a length is
    known neither way.
    """
    out = {}
    for rv in model.free_RVs:
        value = model.rvs_to_values[rv]
        dims = model.named_vars_to_dims.get(rv.name) or ()
        shape = list(rv.type.shape)
        for i, n in enumerate(shape):
            if n is None and i < len(dims) and model.coords.get(dims[i]) is not None:
                shape[i] = len(model.coords[dims[i]])
        if any(n is None for n in shape):
            return {k: tuple(np.shape(v)) for k, v in model.initial_point().items()}
        out[value.name] = tuple(int(n) for n in shape)
    return out


#: half-width of the group effects' start jitter (see :func:`_initial_points`)
EFFECTS_JITTER = 0.1


def _initial_points(model):
    """Starting points: PyMC's support points, jittered by uniform(-1, 1) on the unconstrained
    scale, except the group effects, which get uniform(-0.1, 0.1) around their support point.

    nutpie's default jitters every variable by one unit; a jittered SD times jittered
    standard-normal effects put a Poisson model's log mean near 60 in some rows (exp(60) ~
    1e26), where the log density is ~-1e13, the step size adapts down to ~1e-200 and the chain
    never leaves: 1-3 of 4 chains stuck on a 180-row Poisson GLMM (``benchmarks/README.md``).
    The effects are not started exactly at zero: an effect no row informs (a slope of a group
    whose rows all have x = 0) would then have a zero gradient, which nutpie's initial mass
    matrix (from the gradient's size) rejects.
    """
    from nutpie import compile_pymc as ncp
    from pymc.initial_point import make_initial_point_fn

    effects = [model.rvs_to_values[rv].name for rv in model.free_RVs if names.is_group_effects(rv.name)]
    support = make_initial_point_fn(
        model=model,
        default_strategy="support_point",
        jitter_rvs={rv for rv in model.free_RVs if not names.is_group_effects(rv.name)},
        return_transformed=True,
    )

    def start(seed):
        point = support(seed)
        rng = np.random.default_rng(seed)
        for name in effects:
            value = np.asarray(point[name])
            point[name] = value + rng.uniform(-EFFECTS_JITTER, EFFECTS_JITTER, size=value.shape)
        return point

    return ncp._wrap_with_lock(start)


def _named_shared(variables) -> dict:
    """The named data inputs (shared variables) among the ancestors of ``variables``."""
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.traversal import ancestors

    return {v.name: v for v in ancestors(variables) if isinstance(v, SharedVariable) and v.name}


class _Entry:
    """A compiled model kept by the cache, with what lets a same-structure model reuse it.

    Besides the compiled function, the model it was compiled from keeps its starting-point
    function (PyMC's jittered support points, compiled once): a later model of the same
    structure borrows it, with its own data put into the shared inputs for each call and
    the original data put back afterwards, instead of compiling its own (~40 ms a fit).
    """

    def __init__(self, compiled, model):
        self.compiled = compiled
        self.initial_point = _initial_points(model)
        self.shared = _named_shared(model.free_RVs)
        self.lock = threading.Lock()

    def initial_point_for(self, values: dict):
        """The starting-point function of a model whose shared inputs hold ``values``."""

        def point(seed):
            with self.lock:
                saved = {name: var.get_value(borrow=True) for name, var in self.shared.items()}
                try:
                    for name, var in self.shared.items():
                        var.set_value(values[name], borrow=True)
                    return self.initial_point(seed)
                finally:
                    for name, var in self.shared.items():
                        var.set_value(saved[name], borrow=True)

        return point


def _rebind(entry: _Entry, model, logp):
    """The entry's compiled function (of a model with the same structure) with ``model``'s data
    and starting points."""
    from nutpie import compile_pymc as ncp

    compiled = entry.compiled
    shared = _named_shared([logp])
    needed = {v.name for v in compiled.shared_var_keys}
    if not needed <= shared.keys():
        raise KeyError(sorted(needed - shared.keys()))
    updated = compiled.with_data(**{name: shared[name].get_value() for name in needed})
    own = _named_shared(model.free_RVs)
    if not entry.shared.keys() <= own.keys():
        raise KeyError(sorted(entry.shared.keys() - own.keys()))
    start = entry.initial_point_for({name: own[name].get_value() for name in entry.shared})
    names, _, shapes = compiled.shape_info
    free_names = [model.rvs_to_values[rv].name for rv in model.free_RVs]
    point_fn = ncp._rv_dict_to_flat_array_wrapper(
        start,
        names=free_names,
        shapes=[tuple(shapes[names.index(n)]) for n in free_names],
    )
    dims, coords = ncp._prepare_dims_and_coords(model, compiled.shape_info, compiled.reparameterized_names)
    return dataclasses.replace(updated, initial_point_func=point_fn, dims=dims, _coords=coords)


def _compile(model, var_names, private: bool = True):
    # Fast-math off: with it, a process that compiled a function and one that loaded it from
    # numba's disk cache drew different last bits for the same seed.
    with pytensor.config.change_flags(numba__fastmath=False):
        return _compile_cached_or_plain(model, var_names, private)


def _compile_cached_or_plain(model, var_names, private: bool = True):
    import nutpie

    if not private:
        return nutpie.compile_pymc_model(model, var_names=var_names)
    try:
        return _compile_cached(model, var_names)
    except _NotCacheable:
        pass
    except Exception as exc:  # noqa: BLE001 - a cache problem must not stop a fit
        warnings.warn(
            f"bayesmix could not use its compile cache ({type(exc).__name__}: {exc}); compiling without it",
            RuntimeWarning,
            stacklevel=3,
        )
    return nutpie.compile_pymc_model(model, var_names=var_names)


class _NotCacheable(Exception):
    pass


class _Pointers:
    """Owns the flat uint64 table of data pointers and shapes the callbacks read."""

    def __init__(self, keys: list[str], data: dict[str, np.ndarray]):
        self.keys = keys
        self.data = data
        table = []
        for key in keys:
            arr = data[key]
            table.append(arr.ctypes.data)
            table.extend(arr.shape)
        self.table = np.array(table or [0], dtype=np.uint64)


def _compile_cached(model, var_names):
    import numba
    import nutpie
    from nutpie import compile_pymc as ncp
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS, compile_numba_function_src

    (
        n_dim,
        n_expanded,
        logp_fn_pt,
        expand_fn_pt,
        initial_point_fn,
        shape_info,
        reparameterized_names,
    ) = ncp._make_functions(
        model,
        mode="NUMBA",
        compute_grad=True,
        join_expanded=True,
        pymc_initial_point_fn=_initial_points(model),
        var_names=var_names,
    )
    logp_inner = logp_fn_pt.vm.jit_fn
    expand_inner = expand_fn_pt.vm.jit_fn
    logp_key = CACHED_SRC_FUNCTIONS.get(logp_inner.py_func)
    expand_key = CACHED_SRC_FUNCTIONS.get(expand_inner.py_func)
    if logp_key is None or expand_key is None:
        raise _NotCacheable

    shared_data: dict[str, np.ndarray] = {}
    shared_var_keys = {}
    for var in [*logp_fn_pt.get_shared(), *expand_fn_pt.get_shared()]:
        if var in shared_var_keys:
            continue
        key = uuid4().hex
        arr = np.array(var.get_value(), order="C", copy=True)
        arr.flags.writeable = False
        shared_data[key] = arr
        shared_var_keys[var] = key
    logp_keys = [shared_var_keys[v] for v in logp_fn_pt.get_shared()]
    expand_keys = [shared_var_keys[v] for v in expand_fn_pt.get_shared()]
    # one table: the logp function's arrays first, then the expand function's
    order = logp_keys + expand_keys
    pointers = _Pointers(order, shared_data)

    layout = []
    offset = 0
    for key in order:
        arr = shared_data[key]
        layout.append((offset, arr.ndim, arr.dtype.str))
        offset += 1 + arr.ndim
    logp_layout = layout[: len(logp_keys)]
    expand_layout = layout[len(logp_keys) :]

    common = (_SOURCE_VERSION, nutpie.__version__, numba.__version__, n_dim, n_expanded, len(pointers.table))
    logp_src = _callback_source("logp", n_dim, n_expanded, logp_layout, len(pointers.table))
    expand_src = _callback_source("expand", n_dim, n_expanded, expand_layout, len(pointers.table))
    env = {"__name__": __name__, "np": np, "numba": numba, "_ptr": ncp.address_as_void_pointer}

    def build(kind, src, inner, inner_key, sig):
        key = hashlib.sha256(repr((kind, common, inner_key, src)).encode()).hexdigest()
        py_func = compile_numba_function_src(
            src, f"{kind}_callback", global_env=env | {"inner": inner}, cache_key=f"bayesmix_{key}"
        )
        CACHED_SRC_FUNCTIONS[py_func] = f"bayesmix_{key}"
        return numba.cfunc(sig, cache=True)(py_func)

    t = numba.types
    logp_sig = t.int64(t.uint64, t.CPointer(t.double), t.CPointer(t.double), t.CPointer(t.double), t.voidptr)
    expand_sig = t.int64(t.uint64, t.uint64, t.CPointer(t.double), t.CPointer(t.double), t.voidptr)
    logp_c = build("logp", logp_src, logp_inner, logp_key, logp_sig)
    expand_c = build("expand", expand_src, expand_inner, expand_key, expand_sig)

    dims, coords = ncp._prepare_dims_and_coords(model, shape_info, reparameterized_names)
    return _CachedCompiledModel(
        _n_dim=n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info, strict=True)},
        compiled_logp_func=logp_c,
        compiled_expand_func=expand_c,
        initial_point_func=initial_point_fn,
        shared_data=shared_data,
        shared_var_keys=shared_var_keys,
        user_data=pointers.table,
        n_expanded=n_expanded,
        shape_info=shape_info,
        logp_func=logp_fn_pt,
        expand_func=expand_fn_pt,
        reparameterized_names=reparameterized_names,
    )


def _callback_source(kind: str, n_dim: int, n_expanded: int, layout, table_len: int) -> str:
    """Source of a nutpie callback reading its data arrays from the pointer table."""
    lines = []
    args = []
    for i, (offset, ndim, dtype) in enumerate(layout):
        shape = ", ".join(f"table[{offset + 1 + d}]" for d in range(ndim))
        shape = f"({shape},)" if ndim else "()"
        lines.append(f"        a{i} = numba.carray(_ptr(table[{offset}]), {shape}, np.dtype('{dtype}'))")
        args.append(f"a{i}")
    extract = "\n".join(lines)
    call = ", ".join(["x", *args])
    if kind == "logp":
        return f"""
def logp_callback(dim, x_, out_, logp_, user_data_):
    if dim != {n_dim}:
        return -1
    try:
        table = numba.carray(user_data_, ({table_len},), np.uint64)
{extract}
        x = numba.carray(x_, ({n_dim},))
        out = numba.carray(out_, ({n_dim},))
        logp = numba.carray(logp_, ())
        logp_val, grad = inner({call})
        logp[()] = logp_val
        out[...] = grad
        if not np.all(np.isfinite(out)):
            return 3
        if not np.isfinite(logp_val):
            return 4
    except Exception:
        return 1
    return 0
"""
    return f"""
def expand_callback(dim, expanded, x_, out_, user_data_):
    if dim != {n_dim}:
        return -1
    if expanded != {n_expanded}:
        return -1
    try:
        table = numba.carray(user_data_, ({table_len},), np.uint64)
{extract}
        x = numba.carray(x_, ({n_dim},))
        out = numba.carray(out_, ({n_expanded},))
        (values,) = inner({call})
        out[...] = values
    except Exception:
        return -2
    return 0
"""


def _compiled_model_class():
    from nutpie.compile_pymc import CompiledPyMCModel

    @dataclasses.dataclass(frozen=True)
    class CachedCompiledModel(CompiledPyMCModel):
        """nutpie's compiled model whose callbacks read data through a pointer table."""

        def with_data(self, **updates):
            shared_data = dict(self.shared_data)
            for name, new_val in updates.items():
                keys = [k for var, k in self.shared_var_keys.items() if var.name == name]
                if len(keys) != 1:
                    raise KeyError(f"unknown or ambiguous shared variable: {name}")
                old = shared_data[keys[0]]
                new = np.array(new_val, dtype=old.dtype, order="C", copy=True)
                if new.ndim != old.ndim:
                    raise ValueError(f"shared variable {name} must have rank {old.ndim}")
                new.flags.writeable = False
                shared_data[keys[0]] = new
            order = _table_order(self)
            pointers = _Pointers(order, shared_data)
            return dataclasses.replace(self, shared_data=shared_data, user_data=pointers.table)

    return CachedCompiledModel


def _table_order(compiled) -> list[str]:
    keys = [compiled.shared_var_keys[v] for v in compiled.logp_func.get_shared()]
    keys += [compiled.shared_var_keys[v] for v in compiled.expand_func.get_shared()]
    return keys


class _Lazy:
    cls = None


def _CachedCompiledModel(**kwargs):  # noqa: N802 - builds the dataclass defined lazily above
    if _Lazy.cls is None:
        _Lazy.cls = _compiled_model_class()
    return _Lazy.cls(**kwargs)
