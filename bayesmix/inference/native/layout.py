"""What every native program shares: the unconstrained vector's layout, priors, the pointer table.

A :class:`Program` is a model's log density written as numbers: per element of nutpie's
unconstrained vector its transform and prior (:func:`free_layout`), where each part of
the model sits in it, and the data.  The callbacks receive the program's arrays through a
flat table of addresses and shapes (:func:`table`); the first three arrays of every kind
are the same (``code``, ``par``, ``out_idx``), so one trace callback serves all kinds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.traversal import ancestors

from bayesmix.core import names
from bayesmix.core.slots import DATA_PREFIX
from bayesmix.inference.compiled import value_shapes

__all__ = [
    "Program",
    "Unsupported",
    "DISTS",
    "TRANSFORMS",
    "EXTERNAL",
    "free_layout",
    "collapsed_layout",
    "COLLAPSED_ARRAYS",
    "expanded_layout",
    "pack",
    "table",
    "table_len",
]

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
#: prior code of an element whose density the kind's own code computes (centred group effects)
EXTERNAL = 11
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
#: transform codes; PyMC's increasing ``Ordered`` transform is 3 for a vector's first element
#: (identity) and 4 for the others (the previous element plus ``exp(x)``)
TRANSFORMS = {None: 0, "LogTransform": 1, "LogOddsTransform": 2, "Ordered": 3, "VarianceShares": 5}
ORDERED_NEXT = 4
#: :class:`~bayesmix.graph.transforms.VarianceShares`: its first element (the log total
#: variance) is 5, the log-ratios 6; together they give the SDs of all its elements
SHARES_NEXT = 6
_N_PARAMS = {"normal": 2, "student_t": 3, "cauchy": 2, "half_normal": 1, "half_student_t": 2}
_N_PARAMS |= {"half_cauchy": 1, "exponential": 1, "gamma": 2, "flat": 0, "half_flat": 0, "beta": 2}


class Unsupported(Exception):
    """The model is not one the native path covers (it is then compiled as a graph)."""


@dataclass(frozen=True)
class Program:
    """A model's log density as numbers for a native callback.

    Attributes
    ----------
    kind : str
        Which callback evaluates it: ``"one_factor"`` (collapsed Gaussian) or ``"rows"``
        (group effects as parameters, any family the rows density knows).
    arrays : tuple of ndarray
        The kind's arrays; the first three are ``code`` (n, 2: transform, prior), ``par``
        (n, 3: prior parameters) and ``out_idx`` (what the trace stores, as positions in
        ``[x, constrained x]``).
    free : list of (name, shape)
        The free value variables in the unconstrained vector's order (nutpie's layout).
    expanded : list of (name, shape, slice)
        What the trace stores: name, shape and its entries of ``out_idx``.
    """

    kind: str
    arrays: tuple
    free: list
    expanded: list

    @property
    def n_dim(self) -> int:
        return int(self.arrays[0].shape[0])


def free_layout(model, standard_normal=(), external=()):
    """The unconstrained vector: per element its (transform, prior) code and prior parameters.

    Parameters
    ----------
    model : pymc.Model
    standard_normal : collection of str
        Variables whose prior is N(0, 1) written as constants (non-centred group effects).
    external : collection of str
        Variables whose density the kind's code computes (prior code :data:`EXTERNAL`).

    Returns
    -------
    code : ndarray (n, 2), par : ndarray (n, 3), free : list of (value name, shape, rv name,
    transformed), offsets : dict rv name -> first position
    """
    shared = _shared_values(model)
    shapes = value_shapes(model)
    offsets: dict[str, int] = {}
    code, par, free = [], [], []
    pos = 0
    for rv in model.free_RVs:
        value = model.rvs_to_values[rv]
        tr = model.rvs_to_transforms.get(rv)
        tname = None if tr is None else type(tr).__name__
        if tname not in TRANSFORMS:
            raise Unsupported
        shape = shapes[value.name]
        size = int(np.prod(shape, dtype=int))
        if tname == "Ordered" and (tr.positive or not tr.ascending or len(shape) != 1):
            raise Unsupported
        if rv.name in external:
            dist, params = EXTERNAL, []
        elif rv.name in standard_normal:
            dist, params = DISTS["normal"], [np.zeros(size), np.ones(size)]
        else:
            name = _RV_DIST.get(type(rv.owner.op).__name__)
            if name is None:
                raise Unsupported
            dist, params = DISTS[name], _prior_params(rv.name, name, shared, size)
        for e in range(size):
            t = TRANSFORMS[tname]
            if e > 0 and tname in ("Ordered", "VarianceShares"):
                t = ORDERED_NEXT if tname == "Ordered" else SHARES_NEXT
            code.append((t, dist))
            par.append([*(p[e] for p in params), *([0.0] * (3 - len(params)))])
        free.append((value.name, shape, rv.name, tname is not None))
        offsets[rv.name] = pos
        pos += size
    return (
        np.asarray(code, dtype=np.int64).reshape(pos, 2),
        np.asarray(par, dtype=np.float64).reshape(pos, 3),
        free,
        offsets,
    )


def expanded_layout(free, keep) -> tuple[np.ndarray, list]:
    """What the trace stores: every free value, and the constrained values of kept transformed ones."""
    n = sum(int(np.prod(shape, dtype=int)) for _, shape, _, _ in free)
    starts, pos = {}, 0
    for value_name, shape, _, _ in free:
        starts[value_name] = pos
        pos += int(np.prod(shape, dtype=int))
    out_idx: list[int] = []
    expanded = []
    for value_name, shape, _, _ in free:
        size = int(np.prod(shape, dtype=int))
        i0 = starts[value_name]
        start = len(out_idx)
        out_idx.extend(range(i0, i0 + size))
        expanded.append((value_name, shape, slice(start, len(out_idx))))
    for value_name, shape, rv_name, transformed in free:
        if transformed and rv_name in keep:
            size = int(np.prod(shape, dtype=int))
            i0 = starts[value_name]
            start = len(out_idx)
            out_idx.extend(range(n + i0, n + i0 + size))
            expanded.append((rv_name, shape, slice(start, len(out_idx))))
    return np.asarray(out_idx, dtype=np.int64), expanded


def where(parts: dict, offsets: dict, vector: str, length: int) -> np.ndarray:
    """Positions in the unconstrained vector of a (possibly split) parameter vector's elements."""
    out = np.full(length, -1, dtype=np.int64)
    for rv_name, idx, *first in parts.get(vector, ()):
        if rv_name not in offsets:
            raise Unsupported
        out[np.asarray(idx, dtype=int)] = offsets[rv_name] + (first[0] if first else 0) + np.arange(len(idx))
    if (out < 0).any():
        raise Unsupported
    return out


#: the first arrays of the collapsed Gaussian kinds (one factor, nested): the layout, where the
#: population coefficients, SDs and CPCs sit, and sigma's position
COLLAPSED_ARRAYS = (
    ("code", 2),
    ("par", 2),
    ("out_idx", 1),
    ("theta_idx", 1),
    ("sd_idx", 1),
    ("cpc_idx", 1),
    ("cpc_row", 1),
    ("cpc_col", 1),
    ("sigma_idx", 1),
)


def collapsed_layout(built, keep, strategy: str):
    """The free layout of a model whose group effects the collapsed ``strategy`` integrates out
    (its one potential the collapsed likelihood, no observed variable, no deterministic kept):
    ``(strategy data, code, par, free, offsets)`` as :func:`free_layout`; else :class:`Unsupported`."""
    ss = built.collapsed
    if ss is None or getattr(ss, "strategy", "") != strategy:
        raise Unsupported
    model = built.model
    if [p.name for p in model.potentials] != ["collapsed_loglik"] or model.observed_RVs:
        raise Unsupported
    if any(d.name in keep for d in model.deterministics):
        raise Unsupported
    return (ss, *free_layout(model))


def theta_positions(built, design, offsets, p: int) -> np.ndarray:
    """Positions of the population coefficients ``[Intercept_c, slopes]`` (or ``b``)."""
    if design.has_intercept:
        if names.INTERCEPT_C not in offsets:
            raise Unsupported
        theta = [np.array([offsets[names.INTERCEPT_C]])]
        if p > 1:
            theta.append(where(built.parts, offsets, names.SLOPES, p - 1))
        return np.concatenate(theta)
    return where(built.parts, offsets, names.B, p) if p else np.zeros(0, dtype=np.int64)


def cpc_positions(f, offsets) -> tuple[list, list, list]:
    """Per canonical partial correlation of ``f``: its position, row and column, in fill order."""
    idx, row, col = [], [], []
    if not f.cor_pairs():
        return idx, row, col
    cpc = names.cpc_var(f.name)
    if cpc not in offsets:
        raise Unsupported
    q = 0
    for block in f.correlated_blocks:
        for ii in range(1, len(block)):
            for jj in range(ii):
                idx.append(offsets[cpc] + q)
                row.append(block[ii])
                col.append(block[jj])
                q += 1
    return idx, row, col


def pack(arrays) -> tuple:
    """Contiguous read-only int64/float64 copies (the callbacks' argument types)."""
    out = []
    for arr in arrays:
        a = np.asarray(arr)  # (np.ascontiguousarray would make a 0-d array 1-d)
        a = np.array(a, dtype=np.int64 if a.dtype.kind in "biu" else np.float64, order="C", copy=True)
        a.flags.writeable = False
        out.append(a)
    return tuple(out)


def _shared_values(model) -> dict:
    """The named data slots the free variables' priors read."""
    return {
        v.name: np.asarray(v.get_value())
        for v in ancestors(model.free_RVs)
        if isinstance(v, SharedVariable) and v.name
    }


def _prior_params(rv_name: str, dist: str, shared: dict, size: int) -> list:
    """The prior's parameters, broadcast to the variable's size, from the graph's named data slots."""
    count = _N_PARAMS[dist]
    if dist == "beta":  # the CPCs' Beta(a, a) (:func:`bayesmix.core.linalg.cpc_beta_params`)
        factor = rv_name.removeprefix(f"{names.INTERNAL_PREFIX}cpc_")
        key = f"{DATA_PREFIX}cpc_{factor}.beta"
        if key not in shared:
            raise Unsupported
        a = np.broadcast_to(shared[key].astype(float), (size,))
        return [a, a]
    out = []
    for i in range(count):
        key = f"{DATA_PREFIX}{rv_name}.{i}"
        if key not in shared:
            raise Unsupported
        out.append(np.broadcast_to(shared[key].astype(float), (size,)))
    return out


def table_len(ndims) -> int:
    """Entries of a kind's pointer table: per array its address and its shape."""
    return sum(1 + d for d in ndims)


def table(prog: Program) -> np.ndarray:
    """The flat uint64 table of the program's array addresses and shapes (keep ``prog`` alive)."""
    out = []
    for arr in prog.arrays:
        out.append(arr.ctypes.data)
        out.extend(arr.shape)
    return np.array(out, dtype=np.uint64)
