"""The numbers that describe a collapsed Gaussian model of nested factors to the native callback.

A chain of nested factors (``(1 | batch/cask)``, ``(x || school) + (x || school:class)``)
integrated out (:mod:`bayesmix.collapsed.nested`) is evaluated by the nested kernel of
:func:`bayesmix.collapsed.kernels.kernels`; :func:`program` reads the built PyMC model's
free variables and the strategy's per-group cross-products.
"""

from __future__ import annotations

import numpy as np

from bayesmix.core import names
from bayesmix.inference.native.layout import (
    COLLAPSED_ARRAYS,
    Program,
    Unsupported,
    collapsed_layout,
    cpc_positions,
    expanded_layout,
    pack,
    table_len,
    theta_positions,
    where,
)

__all__ = ["program", "ARRAYS", "TABLE_LEN"]

#: the arrays' names and numbers of dimensions, in the table's order; ``lmeta`` holds per
#: factor (coarsest first) its first SD in ``sd_idx``, first CPC in ``cpc_idx`` and CPC count
ARRAYS = COLLAPSED_ARRAYS + (
    ("lmeta", 2),
    ("N", 0),
    ("EtE", 3),
    ("ks", 1),
    ("sizes", 1),
    ("parents", 1),
)
TABLE_LEN = table_len(d for _, d in ARRAYS)


def program(built, design, keep) -> Program:
    """The ``"nested"`` program of a model whose chain of nested factors is integrated out.

    Raises :class:`~bayesmix.inference.native.layout.Unsupported` for anything else.
    """
    ss, code, par, free, offsets = collapsed_layout(built, keep, "nested")
    theta_idx = theta_positions(built, design, offsets, ss.p)
    sd_idx: list[int] = []
    cpc_idx: list[int] = []
    cpc_row: list[int] = []
    cpc_col: list[int] = []
    lmeta = []
    for name, k in zip(ss.factors, ss.ks, strict=True):
        f = design.factor(name)
        if len(f.coefs) != k or k > 2:
            raise Unsupported
        ci, cr, cc = cpc_positions(f, offsets)
        lmeta.append((len(sd_idx), len(cpc_idx), len(ci)))
        sd_idx.extend(where(built.parts, offsets, names.sd_var(name), k).tolist())
        cpc_idx += ci
        cpc_row += cr
        cpc_col += cc
    parents = [np.asarray(a, dtype=np.int64) for a in ss.parents[1:]]
    out_idx, expanded = expanded_layout(free, keep)
    arrays = pack(
        (
            code,
            par,
            out_idx,
            theta_idx,
            np.asarray(sd_idx, dtype=np.int64),
            np.asarray(cpc_idx, dtype=np.int64),
            np.asarray(cpc_row, dtype=np.int64),
            np.asarray(cpc_col, dtype=np.int64),
            where(built.parts, offsets, names.SIGMA, 1),
            np.asarray(lmeta, dtype=np.int64).reshape(len(ss.ks), 3),
            np.array(float(ss.N)),
            ss.EtE,
            np.asarray(ss.ks, dtype=np.int64),
            np.asarray(ss.sizes, dtype=np.int64),
            np.concatenate(parents) if parents else np.zeros(0, dtype=np.int64),
        )
    )
    return Program("nested", arrays, [(a, b) for a, b, _, _ in free], expanded)
