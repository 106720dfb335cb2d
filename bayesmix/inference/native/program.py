"""The numbers that describe a one-factor collapsed Gaussian model to the native callback.

:func:`program` reads the built PyMC model (its free variables, their transforms and the
named data slots of their priors) and the collapsed strategy's sufficient statistics; it
returns None for anything it does not recognise, and the model is then compiled as a graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.traversal import ancestors

from bayesmix.core import names
from bayesmix.core.slots import DATA_PREFIX

__all__ = ["Program", "program", "table", "DISTS", "TRANSFORMS", "TABLE_LEN"]

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


#: entries of the pointer table: per array its address and its shape
TABLE_LEN = sum(1 + ndim for _, ndim, _ in _ARRAYS)


def table(prog: Program) -> np.ndarray:
    """The flat uint64 table of the program's array addresses and shapes (keep ``prog`` alive)."""
    out = []
    for arr in prog.arrays:
        out.append(arr.ctypes.data)
        out.extend(arr.shape)
    return np.array(out, dtype=np.uint64)
