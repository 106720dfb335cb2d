"""Data slots: how numbers from the data and the priors enter a PyMC graph.

Every number that comes from the data or the priors enters the graph as a named
shared variable rather than as a constant, so the compiled log density depends
only on the model's structure: a model refitted to new data (a simulation study,
a new sample) reuses the compiled function, swapping the values in
(:mod:`bayesmix.inference.compiled` finds them by :data:`DATA_PREFIX`).
"""

from __future__ import annotations

import numpy as np
import pytensor

__all__ = ["DATA_PREFIX", "data_slot"]

#: prefix of the graph's data inputs
DATA_PREFIX = "data__"


def data_slot(name: str, value):
    """A named shared variable holding numbers the graph reads (data, prior parameters).

    Parameters
    ----------
    name : str
        Unique within the model (the slot is ``data__<name>``).
    value : array_like
        Integers stay int64 (indices), everything else becomes float64.
    """
    arr = np.asarray(value)
    arr = arr.astype(np.int64) if arr.dtype.kind in "biu" else arr.astype(float)
    return pytensor.shared(arr, name=f"{DATA_PREFIX}{name}")
