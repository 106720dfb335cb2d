"""Level-two (group-level) predictors of varying intercepts and slopes.

Two ways to say the same model, which give the same design and so the same posterior:

a) one lme4-style formula with the group-level column in the population part,
   ``log_radon ~ floor + log_uranium + floor:log_uranium + (1 + floor | county)``;
b) explicit level-two formulas per varying coefficient,
   ``level2={"county": {"Intercept": "~ log_uranium", "floor": "~ log_uranium"}}``,
   with the group-level data taken from the main frame (checked constant within
   groups) or from ``group_data={"county": frame}`` keyed by the factor's levels.

(b) is turned into population columns ``Z_c * W[group]`` named as (a) would name
them (``log_uranium``, ``floor:log_uranium``).  Then, for either way, every
population column of the form ``Z_c * w[group]`` (``w`` constant within the groups
of a factor) is recorded as a :class:`Level2Term`, so the model builder computes
``W @ gamma`` on the J group rows and the reports label the coefficients as
level-two ones (g00, g01, g10, g11 in the multilevel equations).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bayesmix.errors import DataError, FormulaError, row_list
from bayesmix.spec import language

__all__ = ["Level2Term", "explicit_columns", "detect"]


def _did_you_mean(name: str, known) -> str:
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass(frozen=True)
class Level2Term:
    """A population column that is a level-two predictor of one varying coefficient.

    Attributes
    ----------
    factor : str
        The grouping factor (e.g. ``"county"``).
    coef : str
        The varying coefficient it predicts (``"Intercept"``, ``"floor"``).
    predictor : str
        The group-level variable (``"log_uranium"``).
    term : str
        The population term carrying its coefficient (``"floor:log_uranium"``).
    values : ndarray, shape (J,)
        The predictor's value per level of the factor.
    """

    factor: str
    coef: str
    predictor: str
    term: str
    values: np.ndarray = field(repr=False)


def _group_frame(
    factor, data: pd.DataFrame, labels: np.ndarray, columns: list[str], group_data: pd.DataFrame | None
) -> pd.DataFrame:
    """One row per level of ``factor`` with the group-level ``columns``."""
    levels = list(factor.levels)
    if group_data is not None:
        gd = group_data
        if factor.name in gd.columns:
            gd = gd.set_index(factor.name)
        keys = [str(k) for k in gd.index]
        if len(set(keys)) != len(keys):
            dup = sorted({k for k in keys if keys.count(k) > 1})[:5]
            raise DataError(f"group-level data for {factor.name!r} list some groups twice: {dup}")
        missing = [lev for lev in levels if lev not in set(keys)]
        extra = [k for k in keys if k not in set(levels)]
        if missing:
            raise DataError(
                f"group-level data for {factor.name!r} lack {len(missing)} group(s) present in the data: "
                f"{missing[:8]}"
            )
        if extra:
            raise DataError(
                f"group-level data for {factor.name!r} have {len(extra)} group(s) not in the data: {extra[:8]}"
            )
        gd = gd.copy()
        gd.index = keys
        absent = [c for c in columns if c not in gd.columns]
        if absent:
            raise DataError(f"group-level data for {factor.name!r} have no column(s) {absent}")
        out = gd.loc[levels, columns]
    else:
        absent = [c for c in columns if c not in data.columns]
        if absent:
            raise DataError(
                f"level-two column(s) {absent} of factor {factor.name!r} are neither in the data nor in "
                f"group_data"
            )
        frame = data[columns].copy()
        frame["__group__"] = labels
        for c in columns:
            n_distinct = frame.groupby("__group__", sort=False)[c].nunique(dropna=False)
            varying = [str(g) for g in n_distinct.index[n_distinct > 1]]
            if varying:
                raise DataError(
                    f"level-two covariate {c!r} varies within {len(varying)} group(s) of {factor.name!r}: "
                    f"{varying[:8]}; a group-level predictor must be constant within each group"
                )
        out = frame.groupby("__group__", sort=False)[columns].first().loc[levels]
    na = out.isna()
    if na.any().any():
        bad = [str(g) for g in out.index[na.any(axis=1)]][:8]
        raise DataError(f"group-level data for {factor.name!r} have missing values for group(s) {bad}")
    return out.reset_index(drop=True)


def explicit_columns(
    level2: Mapping,
    factors,
    terms: tuple[str, ...],
    data: pd.DataFrame,
    group_data: Mapping | None,
    labels_of,
) -> tuple[list[str], list[np.ndarray], list[str]]:
    """Population columns implied by explicit level-two formulas.

    Returns (names, columns of length N, population terms that the level-two
    intercepts require but the formula lacks).
    """
    by_name = {f.name: f for f in factors}
    group_data = dict(group_data or {})
    unknown = set(group_data) - set(by_name)
    if unknown:
        raise DataError(
            f"group_data names factor(s) {sorted(unknown)} the model does not have; "
            f"factors: {sorted(by_name)}"
        )
    names, cols, needed = [], [], []
    for fname, per_coef in level2.items():
        if fname not in by_name:
            raise FormulaError(
                f"level2 names factor {fname!r}, which the model does not have{_did_you_mean(fname, by_name)}; "
                f"its factors are {sorted(by_name)}"
            )
        f = by_name[fname]
        if not isinstance(per_coef, Mapping):
            raise FormulaError(
                f"level2[{fname!r}] must map varying coefficients to formulas, e.g. {{'Intercept': '~ w'}}"
            )
        labels = labels_of(f)
        for coef, text in per_coef.items():
            if coef not in f.coefs:
                raise FormulaError(
                    f"level2[{fname!r}] names coefficient {coef!r}, which does not vary by "
                    f"{fname!r}{_did_you_mean(coef, f.coefs)}; its varying coefficients are {list(f.coefs)}"
                )
            rhs = text.split("~", 1)[1] if "~" in text else text
            where = f"level2[{fname!r}][{coef!r}] = {text!r}"
            wanted = sorted(language.check_side(rhs, text, text.find(rhs)))
            gframe = _group_frame(f, data, labels, wanted, group_data.get(fname))
            mm = language.model_matrix(rhs, gframe, where)
            W = np.asarray(mm, dtype=float)
            zc = f.Z[:, f.coefs.index(coef)]
            for q, wname in enumerate(str(c) for c in mm.columns):
                if wname == "Intercept":
                    if coef not in terms and coef not in needed:
                        needed.append(coef)
                    continue
                name = wname if coef == "Intercept" else f"{coef}:{wname}"
                if name in terms or name in names:
                    raise FormulaError(
                        f"the level-two term {name!r} is given twice (in the formula and in "
                        f"level2, or twice in level2)"
                    )
                names.append(name)
                cols.append(zc * W[f.index, q])
    return names, cols, needed


def detect(X: np.ndarray, terms: tuple[str, ...], factors, tol: float = 1e-9) -> tuple[Level2Term, ...]:
    """Find population columns of the form ``Z_c * w[group]`` for some factor and coefficient.

    A column matching several factors is attributed to the one with fewest levels
    (the coarsest grouping it is constant within).
    """
    found = []
    for j, term in enumerate(terms):
        if term == "Intercept":
            continue
        x = X[:, j]
        best = None
        for f in sorted(factors, key=lambda f: f.n_levels):
            for c, coef in enumerate(f.coefs):
                z = f.Z[:, c]
                if coef != "Intercept" and term == coef:
                    continue
                zz = np.bincount(f.index, z * z, minlength=f.n_levels)
                if coef == "Intercept" and np.any(zz == 0):
                    continue
                w = np.bincount(f.index, z * x, minlength=f.n_levels) / np.where(zz > 0, zz, 1.0)
                scale = max(float(np.abs(x).max()), 1.0)
                if np.max(np.abs(x - z * w[f.index])) <= tol * scale and np.ptp(w[zz > 0]) > 0:
                    best = (f, coef, w, zz > 0)
                    break
            if best:
                break
        if best is None:
            continue
        f, coef, w, seen = best
        predictor = term
        if coef != "Intercept":
            parts = term.split(":")
            predictor = ":".join(p for p in parts if p != coef) or term
            if not seen.all():
                # groups where the slope variable is always 0 do not show w; take it from the
                # predictor's own level-two column when there is one
                same = [
                    t for t in found if t.factor == f.name and t.coef == "Intercept" and t.term == predictor
                ]
                w = np.where(seen, w, same[0].values if same else np.nan)
        found.append(Level2Term(factor=f.name, coef=coef, predictor=predictor, term=term, values=w))
    return tuple(found)


def new_columns(terms, level2, factor, index: dict, Zs: dict, data: pd.DataFrame) -> list[np.ndarray]:
    """The population columns of explicit level-two terms for new rows: ``Z_c * W[group]``.

    A fitted group's ``W`` is its fitted value; a group the fit has not seen takes it from
    the new data's column (a new county's log uranium), which must then be present and
    numeric.

    Parameters
    ----------
    terms : sequence of str
        The level-two terms to build, in the design's order.
    level2 : tuple of Level2Term
    factor : callable
        Factor name -> its ``FactorDesign``.
    index, Zs : dict
        Per factor, the new rows' group index (-1: unseen) and varying-coefficient values.
    data : pandas.DataFrame
        The new rows.
    """
    by_term = {t.term: t for t in level2}
    cols = []
    for term in terms:
        t = by_term[term]
        f = factor(t.factor)
        idx = index[f.name]
        unseen = idx < 0
        w = np.nan_to_num(t.values)[np.where(unseen, 0, idx)]
        if unseen.any():
            if t.predictor not in data.columns:
                raise DataError(
                    f"the new data have levels of {f.name!r} not in the fit, and their level-two "
                    f"predictor {t.predictor!r} is not a column of the new data: add it"
                )
            values = pd.to_numeric(data[t.predictor], errors="coerce").to_numpy(dtype=float)
            bad = unseen & ~np.isfinite(values)
            if bad.any():
                raise DataError(
                    f"level-two predictor {t.predictor!r} is missing or not a number in "
                    f"{row_list(data.index, bad)} of the new data"
                )
            w = np.where(unseen, values, w)
        cols.append(Zs[f.name][:, f.coefs.index(t.coef)] * w)
    return cols
