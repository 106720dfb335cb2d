"""Group labels: the grouping side of a bar term as strings, sorted as a statistician expects.

Labels are strings whatever the column's type (integer subject codes included; floats
that are whole numbers lose their ``.0``); levels sort numerically where they are
numbers, and in category order for pandas categoricals; interaction labels escape ``:``
so distinct tuples stay distinct groups.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from bayesmix.errors import DataError, row_list

__all__ = ["group_labels", "sorted_levels", "natural_key", "check_grouping_column"]


def natural_key(label: str):
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def _label_strings(col: pd.Series) -> pd.Series:
    """Group labels as strings; integral floats lose their '.0' (codes read with NaN)."""
    if pd.api.types.is_float_dtype(col):
        vals = col.to_numpy()
        finite = vals[np.isfinite(vals)]
        if finite.size and np.all(finite == np.round(finite)):
            return col.map(lambda v: str(int(v)) if np.isfinite(v) else v)
    return col.astype(str)


def _escape(labels: pd.Series) -> pd.Series:
    """A component of an interaction label with ``\\`` and ``:`` escaped, so joined labels stay distinct."""
    return labels.str.replace("\\", "\\\\", regex=False).str.replace(":", "\\:", regex=False)


def group_labels(data: pd.DataFrame, columns: tuple[str, ...]) -> np.ndarray:
    """The group label of each row: the column labels joined by ``':'``.

    In an interaction (``a:b``) a ``:`` inside a component is escaped as ``\\:``, so the
    pairs ``("a:b", "c")`` and ``("a", "b:c")`` stay two groups.
    """
    if len(columns) == 1:
        return _label_strings(data[columns[0]]).to_numpy(dtype=object)
    parts = [_escape(_label_strings(data[c])) for c in columns]
    out = parts[0]
    for p in parts[1:]:
        out = out + ":" + p
    return out.to_numpy(dtype=object)


def _components(label: str) -> list[str]:
    """The components of an interaction label (inverse of the escaping in :func:`group_labels`)."""
    out, cur, i = [], [], 0
    while i < len(label):
        ch = label[i]
        if ch == "\\" and i + 1 < len(label):
            cur.append(label[i + 1])
            i += 2
            continue
        if ch == ":":
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    out.append("".join(cur))
    return out


def sorted_levels(data: pd.DataFrame, columns: tuple[str, ...], labels: np.ndarray) -> list[str]:
    uniq = pd.unique(labels)
    if len(columns) == 1 and isinstance(data[columns[0]].dtype, pd.CategoricalDtype):
        order = [str(c) for c in data[columns[0]].cat.categories]
        present = set(uniq)
        return [c for c in order if c in present]
    if len(columns) == 1:
        return sorted(uniq, key=natural_key)
    # interactions: sort by each component in turn
    return sorted(uniq, key=lambda lab: [natural_key(p) for p in _components(lab)])


def check_grouping_column(data: pd.DataFrame, col: str) -> None:
    """Grouping columns are labels: infinite values are an error, continuous values a warning."""
    s = data[col]
    if not pd.api.types.is_float_dtype(s):
        return
    vals = s.to_numpy(dtype=float)
    bad = ~np.isfinite(vals)
    if bad.any():
        raise DataError(f"grouping column {col!r} has infinite values in {row_list(data.index, bad)}")
    fractional = vals != np.round(vals)
    if fractional.any():
        warnings.warn(
            f"grouping column {col!r} holds continuous numbers ({len(np.unique(vals))} distinct values, e.g. "
            f"{float(vals[fractional][0])!r}); every distinct value is a group. Did you mean it as a predictor?",
            UserWarning,
            stacklevel=5,
        )
