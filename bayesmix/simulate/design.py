"""Designs to simulate on: groups, rows per group, nested or crossed factors, covariates.

:func:`design` returns a plain :class:`pandas.DataFrame` with one row per observation,
a label column per grouping factor and the covariates, ready for
:meth:`bayesmix.Model.simulate` or :func:`bayesmix.simulate.simulate`:

>>> import bayesmix as bm
>>> df = bm.simulate.design({"cluster": 100}, rows=10, within={"x": "normal(0, 1)"}, seed=1)
>>> df.shape
(1000, 2)

Covariates are given as a distribution in a small text form (``"normal(0, 1)"``,
``"uniform(-1, 1)"``, ``"lognormal(0, 0.5)"``, ``"bernoulli(0.3)"``, ``"poisson(2)"``;
numbers only, parsed, never evaluated), a list of category labels (drawn with equal
probability), an array of values, or a Python callable ``f(rng, n) -> array``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from bayesmix.errors import argument_error

__all__ = ["design", "extend", "draw_covariate", "DISTRIBUTIONS"]

#: distribution name -> (number of parameters, draw(rng, n, *params))
DISTRIBUTIONS: dict[str, tuple[int, Callable]] = {
    "normal": (2, lambda rng, n, mu, sd: rng.normal(mu, sd, n)),
    "uniform": (2, lambda rng, n, lo, hi: rng.uniform(lo, hi, n)),
    "lognormal": (2, lambda rng, n, mu, sd: rng.lognormal(mu, sd, n)),
    "bernoulli": (1, lambda rng, n, p: (rng.uniform(size=n) < p).astype(int)),
    "poisson": (1, lambda rng, n, lam: rng.poisson(lam, n)),
}
_NUMBER = r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*"
_FORM = re.compile(rf"^\s*([a-z_]+)\s*\(((?:{_NUMBER},)*{_NUMBER})?\)\s*$")


def draw_covariate(spec, n: int, rng: np.random.Generator, name: str = "covariate") -> np.ndarray:
    """``n`` values of a covariate from its specification (see the module docstring)."""
    if isinstance(spec, str):
        m = _FORM.match(spec)
        if not m or m.group(1) not in DISTRIBUTIONS:
            raise argument_error(
                name,
                spec,
                f"a distribution such as 'normal(0, 1)': one of {sorted(DISTRIBUTIONS)} with numbers",
            )
        nargs, draw = DISTRIBUTIONS[m.group(1)]
        args = [float(a) for a in m.group(2).split(",")] if m.group(2) else []
        if len(args) != nargs:
            raise argument_error(name, spec, f"{m.group(1)} with {nargs} parameter(s)")
        try:
            return np.asarray(draw(rng, n, *args))
        except ValueError as e:
            raise argument_error(name, spec, f"valid parameters ({e})") from None
    if callable(spec):
        values = np.asarray(spec(rng, n))
    elif isinstance(spec, list | tuple) and spec and all(isinstance(v, str) for v in spec):
        return np.asarray(spec, dtype=object)[rng.integers(0, len(spec), n)]
    elif np.isscalar(spec):
        values = np.full(n, spec)
    else:
        values = np.asarray(spec)
    if values.shape != (n,):
        raise argument_error(name, f"{values.shape[0] if values.ndim else 'a scalar'} values", f"{n} values")
    return values


def _sizes(rows, n_groups: int, rng: np.random.Generator, what: str) -> np.ndarray:
    """Rows per group: an int (balanced), a sequence (one per group) or (lo, hi) drawn uniformly."""
    if isinstance(rows, int | np.integer) and rows >= 1:
        return np.full(n_groups, int(rows))
    if isinstance(rows, tuple) and len(rows) == 2 and all(isinstance(v, int | np.integer) for v in rows):
        lo, hi = rows
        if 1 <= lo <= hi:
            return rng.integers(lo, hi + 1, n_groups)
    if isinstance(rows, Sequence) and not isinstance(rows, str | tuple) and len(rows) == n_groups:
        sizes = np.asarray(rows)
        if np.issubdtype(sizes.dtype, np.integer) and (sizes >= 1).all():
            return sizes
    raise argument_error(
        "rows", rows, f"rows per {what}: an integer >= 1, a (min, max) pair, or a list of {n_groups} integers"
    )


def design(
    groups: Mapping[str, int],
    rows=1,
    structure: str = "nested",
    within: Mapping | None = None,
    between: Mapping[str, Mapping] | None = None,
    seed: int | None = None,
) -> pd.DataFrame:
    """Build a frame of grouping labels and covariates to simulate on.

    Parameters
    ----------
    groups : dict
        Factor name -> number of groups, outermost first.  ``{"cluster": 100}``; nested
        ``{"school": 20, "class": 4}`` (4 classes in each school: class labels are unique
        across schools, e.g. ``"s3_c2"``); crossed ``{"subj": 40, "item": 30}`` with
        ``structure="crossed"``.
    rows : int, (int, int) or list of int
        Rows per innermost group (nested) or per cell (crossed): balanced, drawn
        uniformly from a range (unbalanced), or given per group.
    structure : {"nested", "crossed"}
        How the factors relate.
    within : dict, optional
        Row-level covariates: name -> specification.
    between : dict, optional
        Group-level covariates, constant within a group: factor -> {name -> specification}
        (drawn once per group; these become level-two predictors).
    seed : int, optional
        Seeds every draw.

    Returns
    -------
    pandas.DataFrame
    """
    if not isinstance(groups, Mapping) or not groups:
        raise argument_error(
            "groups", groups, "a dict of factor names to numbers of groups, e.g. {'cluster': 100}"
        )
    for name, count in groups.items():
        if not isinstance(name, str) or not isinstance(count, int | np.integer) or count < 1:
            raise argument_error("groups", {name: count}, "factor names mapped to positive integers")
    if structure not in ("nested", "crossed"):
        raise argument_error("structure", structure, "'nested' or 'crossed'")
    rng = np.random.default_rng(seed)
    names_ = list(groups)
    width = {f: len(str(groups[f] - 1)) for f in names_}

    def label(f, i):
        return f"{f[:1]}{i:0{width[f]}d}"

    if structure == "crossed":
        cells = list(itertools.product(*[range(groups[f]) for f in names_]))
        sizes = _sizes(rows, len(cells), rng, "cell")
        idx = np.repeat(np.arange(len(cells)), sizes)
        frame = pd.DataFrame({f: [label(f, cells[c][k]) for c in idx] for k, f in enumerate(names_)})
    else:
        paths = list(itertools.product(*[range(groups[f]) for f in names_]))
        sizes = _sizes(rows, len(paths), rng, names_[-1])
        idx = np.repeat(np.arange(len(paths)), sizes)
        cols = {}
        for k, f in enumerate(names_):
            # a nested level's label carries its parents', so labels are unique (lme4's a:b)
            cols[f] = ["_".join(label(g, paths[c][j]) for j, g in enumerate(names_[: k + 1])) for c in idx]
        frame = pd.DataFrame(cols)
    n = len(frame)
    for fname, covs in (between or {}).items():
        if fname not in groups:
            raise argument_error("between", fname, f"a factor of groups: {names_}")
        codes, uniques = pd.factorize(frame[fname], sort=True)
        for cname, spec in covs.items():
            frame[cname] = draw_covariate(spec, len(uniques), rng, f"between[{fname!r}][{cname!r}]")[codes]
    for cname, spec in (within or {}).items():
        frame[cname] = draw_covariate(spec, n, rng, f"within[{cname!r}]")
    return frame


def extend(data: pd.DataFrame, along: str, n: int, seed: int | None = None) -> pd.DataFrame:
    """Grow a data set to ``n`` groups of ``along`` (simr's ``extend``): new groups copy the rows of
    existing groups drawn at random, with new labels (``"<label>+<k>"``); responses are kept
    only to be replaced by a simulation.

    Parameters
    ----------
    data : pandas.DataFrame
        E.g. a fitted model's rows (``fit.model.data``).
    along : str
        The grouping column to extend.
    n : int
        Number of groups wanted (at least the present number; the present groups are kept).
    seed : int, optional
    """
    if along not in data.columns:
        raise argument_error("along", along, f"a column of the data: {list(data.columns)}")
    labels = data[along].astype(str)
    present = list(dict.fromkeys(labels))
    if not isinstance(n, int | np.integer) or n < len(present):
        raise argument_error("n", n, f"an integer >= the present number of groups ({len(present)})")
    rng = np.random.default_rng(seed)
    parts = [data.assign(**{along: labels})]
    for k, source in enumerate(rng.choice(present, n - len(present), replace=True)):
        parts.append(data[labels == source].assign(**{along: f"{source}+{k + 1}"}))
    return pd.concat(parts, ignore_index=True)
