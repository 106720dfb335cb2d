"""Reading draws of variables the graph split by prior family."""

from __future__ import annotations

import numpy as np

__all__ = ["assemble"]


def assemble(post, name: str, parts: dict):
    """The draws of vector ``name``, reassembled when its elements were split by prior family.

    Parameters
    ----------
    post : mapping of arrays
        Draws by variable name (an ``xarray.Dataset`` or a dict), shape ``(..., n)``.
    name : str
        The vector's name (:mod:`bayesmix.core.names`).
    parts : dict
        ``name -> [(variable, element indices)]`` as the graph recorded it; a vector
        not in ``parts`` is read directly.
    """
    if name not in parts or len(parts[name]) == 1:
        return np.asarray(post[parts[name][0][0] if name in parts else name])
    n = sum(len(idx) for _, idx in parts[name])
    first = np.asarray(post[parts[name][0][0]])
    out = np.empty(first.shape[:-1] + (n,))
    for var, idx in parts[name]:
        out[..., idx] = np.asarray(post[var])
    return out
