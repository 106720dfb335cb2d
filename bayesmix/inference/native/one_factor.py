"""The numbers that describe a one-factor collapsed Gaussian model to the native callback.

:func:`program` reads the built PyMC model (its free variables, their transforms and the
named data slots of their priors) and the collapsed strategy's sufficient statistics.
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

#: the arrays' names and numbers of dimensions, in the table's order
ARRAYS = COLLAPSED_ARRAYS + (
    ("N", 0),
    ("yty", 0),
    ("Dty", 1),
    ("DtD", 2),
    ("ZtZ", 3),
    ("ZtD", 3),
    ("Zty", 2),
)
TABLE_LEN = table_len(d for _, d in ARRAYS)


def program(built, design, keep) -> Program:
    """The ``"one_factor"`` program of a model whose one factor is integrated out.

    Raises :class:`~bayesmix.inference.native.layout.Unsupported` for anything else.
    """
    if len(design.factors) != 1:
        raise Unsupported
    ss, code, par, free, offsets = collapsed_layout(built, keep, "one_factor")
    f = design.factors[0]
    k = ss.ZtZ.shape[1]
    theta_idx = theta_positions(built, design, offsets, ss.ZtD.shape[2])
    cpc_idx, cpc_row, cpc_col = cpc_positions(f, offsets)
    if not cpc_idx and len(f.coefs) != k:
        raise Unsupported
    out_idx, expanded = expanded_layout(free, keep)
    arrays = pack(
        (
            code,
            par,
            out_idx,
            theta_idx,
            where(built.parts, offsets, names.sd_var(f.name), k),
            np.asarray(cpc_idx, dtype=np.int64),
            np.asarray(cpc_row, dtype=np.int64),
            np.asarray(cpc_col, dtype=np.int64),
            where(built.parts, offsets, names.SIGMA, 1),
            np.array(int(ss.N)),
            np.array(float(ss.yty)),
            ss.Dty,
            ss.DtD,
            ss.ZtZ,
            ss.ZtD,
            ss.Zty,
        )
    )
    return Program("one_factor", arrays, [(a, b) for a, b, _, _ in free], expanded)
