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
        ``name -> [(variable, element indices[, first])]`` as the graph recorded it: the
        variable's elements ``first, first + 1, ...`` (default 0: all of them) are the
        vector's elements ``indices``; a vector not in ``parts`` is read directly.
    """
    if name not in parts:
        return np.asarray(post[name])
    pieces = [_piece(post, part) for part in parts[name]]
    if len(pieces) == 1:
        return pieces[0][1]
    n = sum(len(idx) for idx, _ in pieces)
    out = np.empty(pieces[0][1].shape[:-1] + (n,))
    for idx, values in pieces:
        out[..., idx] = values
    return out


def _piece(post, part) -> tuple:
    var, idx = part[0], part[1]
    values = np.asarray(post[var])
    if len(part) > 2:
        values = values[..., part[2] : part[2] + len(idx)]
    return idx, values
