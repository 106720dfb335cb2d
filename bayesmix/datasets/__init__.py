"""Datasets bundled with bayesmix (copied from the classic lme4/Gelman-Hill examples).

>>> from bayesmix import datasets
>>> datasets.load("sleepstudy").shape
(180, 3)
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

from ..errors import argument_error

#: identifier columns read as strings (labels, not numbers)
_LABELS = {
    "sleepstudy": ["Subject"],
    "radon": ["county"],
    "dyestuff": ["Batch"],
    "penicillin": ["plate", "sample"],
    "pastes": ["batch", "cask", "sample"],
    "cbpp": ["herd", "period"],
    "insteval": ["s", "d", "dept", "service", "studage"],
}

NAMES = tuple(sorted(_LABELS))


def load(name: str) -> pd.DataFrame:
    """Load a bundled dataset as a DataFrame; identifier columns are strings.

    Parameters
    ----------
    name : str
        One of ``cbpp``, ``dyestuff``, ``insteval``, ``pastes``, ``penicillin``,
        ``radon``, ``sleepstudy``.
    """
    if name not in _LABELS:
        raise argument_error("name", name, f"one of {list(NAMES)}")
    path = resources.files(__package__) / f"{name}.csv"
    with path.open("r") as fh:
        return pd.read_csv(fh, dtype=dict.fromkeys(_LABELS[name], str))
