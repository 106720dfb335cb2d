"""Turn a parsed formula and a DataFrame into matrices, group indices and coordinates.

The result, :class:`Design`, is immutable and keeps formulaic's fitted
``ModelSpec`` objects, so :meth:`Design.encode` re-encodes new data with the
same category levels and stateful transforms (``center``, ``scale``...).
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bayesmix.core import names
from bayesmix.errors import DataError, FormulaError, argument_error, row_list
from bayesmix.spec import language
from bayesmix.spec.formula import FormulaSpec, GroupTerm, parse_formula
from bayesmix.spec.labels import check_grouping_column, group_labels, natural_key, sorted_levels
from bayesmix.spec.level2 import detect, explicit_columns, new_columns

__all__ = ["Design", "FactorDesign", "NewData", "make_design", "group_labels"]


@dataclass(frozen=True)
class FactorDesign:
    """The varying coefficients of one grouping factor.

    Attributes
    ----------
    name : str
        Factor name (``"Subject"``, ``"batch:cask"``).
    columns : tuple of str
        Data columns whose labels define the groups.
    levels : tuple of str
        Group labels, in sorted order (numbers sorted numerically).
    index : ndarray of int, shape (N,)
        Group of each row, indexing ``levels``.
    Z : ndarray, shape (N, k)
        Values multiplying each varying coefficient.
    coefs : tuple of str
        Names of the varying coefficients (``"Intercept"``, ``"Days"``).
    blocks : tuple of tuple of int
        Coefficients that share a correlation matrix; singletons are independent.
    """

    name: str
    columns: tuple[str, ...]
    levels: tuple[str, ...]
    index: np.ndarray = field(repr=False)
    Z: np.ndarray = field(repr=False)
    coefs: tuple[str, ...]
    blocks: tuple[tuple[int, ...], ...]
    term_specs: tuple = field(repr=False, default=())
    term_exprs: tuple[str, ...] = ()

    @property
    def n_levels(self) -> int:
        """Number of groups."""
        return len(self.levels)

    @property
    def dim(self) -> str:
        """Name of the levels' coordinate: the factor's name, unless that is a reserved name
        (a model variable such as ``b`` or ``sigma``), then ``<name>__level``."""
        return names.level_dim(self.name)

    @property
    def correlated_blocks(self) -> tuple[tuple[int, ...], ...]:
        """Blocks with more than one coefficient (those with a correlation matrix)."""
        return tuple(b for b in self.blocks if len(b) > 1)

    def cor_pairs(self) -> list[tuple[int, int]]:
        """Index pairs (i, j), i < j, of coefficients with a correlation parameter."""
        pairs = []
        for block in self.correlated_blocks:
            for jj in range(1, len(block)):
                for ii in range(jj):
                    pairs.append((block[ii], block[jj]))
        return pairs


@dataclass(frozen=True)
class Design:
    """Everything the model builder needs, as plain arrays.

    Attributes
    ----------
    formula : FormulaSpec
        The parsed formula.
    y : pandas.Series
        The response (successes for binomial responses), untransformed.
    y_other : pandas.Series or None
        Failures (``cbind``) or trials (``trials()``) for binomial responses.
    X : ndarray, shape (N, p)
        Population-level design.
    terms : tuple of str
        Column names of ``X``.
    factors : tuple of FactorDesign
        One per grouping factor.
    rows : pandas.Index
        Labels of the data rows used (after dropping missing values).
    columns : tuple of str
        The data columns the model reads (response, predictors, grouping and level-two columns).
    categories : tuple of (str, tuple of str)
        The categories each categorical predictor column had in fitting.
    offset : ndarray or None
        Sum of the formula's ``offset()`` terms, added to the linear predictor.
    level2 : tuple of Level2Term
        Population columns that are level-two predictors of a factor's varying
        coefficients (see :mod:`bayesmix.level2`).
    intercept_dropped : bool
        The formula's intercept was dropped (ordinal families); :meth:`encode` drops it too.
    """

    formula: FormulaSpec
    y: pd.Series = field(repr=False)
    y_other: pd.Series | None = field(repr=False)
    X: np.ndarray = field(repr=False)
    terms: tuple[str, ...]
    fixed_spec: object = field(repr=False)
    factors: tuple[FactorDesign, ...]
    rows: pd.Index = field(repr=False)
    n_dropped: int = 0
    offset: np.ndarray | None = field(repr=False, default=None)
    level2: tuple = ()
    categories: tuple[tuple[str, tuple[str, ...]], ...] = ()
    columns: tuple[str, ...] = ()
    intercept_dropped: bool = False

    @property
    def n_obs(self) -> int:
        """Number of rows used."""
        return int(self.X.shape[0])

    @property
    def has_intercept(self) -> bool:
        """Whether the population design has an ``Intercept`` column."""
        return "Intercept" in self.terms

    def factor(self, name: str) -> FactorDesign:
        """The factor called ``name``."""
        for f in self.factors:
            if f.name == name:
                return f
        raise argument_error("factor", name, f"one of {[f.name for f in self.factors]}")

    def coords(self) -> dict[str, list[str]]:
        """PyMC coordinates: population terms, and per factor its levels and coefficients."""
        coords: dict[str, list[str]] = {names.TERM: list(self.terms)}
        for f in self.factors:
            coords[f.dim] = list(f.levels)
            coords[names.coef_dim(f.name)] = list(f.coefs)
            pairs = f.cor_pairs()
            if pairs:
                coords[names.cor_dim(f.name)] = [names.cor_coord(f.coefs[i], f.coefs[j]) for i, j in pairs]
        return coords

    def encode(self, data: pd.DataFrame, new_levels: str = "error") -> NewData:
        """Encode new data exactly as the fitted data were encoded.

        Parameters
        ----------
        data : pandas.DataFrame
            Must hold the predictor and grouping columns (not the response).
        new_levels : {"error", "allow"}
            Group levels not seen in fitting: a :class:`DataError` listing them by
            factor (default), or kept with group index ``-1`` for the caller to handle.

        Returns
        -------
        NewData
            Population design, and per factor the group index and the
            varying-coefficient values.

        Raises
        ------
        DataError
            Missing or non-finite predictor values (naming column and rows), categories
            of a predictor not seen in fitting (naming column, levels and rows), unseen
            group levels with ``new_levels="error"``.
        """
        if not isinstance(data, pd.DataFrame):
            raise argument_error("data", type(data).__name__, "a pandas DataFrame")
        if new_levels not in ("error", "allow"):
            raise argument_error("new_levels", new_levels, "'error' or 'allow'")
        needed = set(_formula_vars(self.formula.fixed))
        for expr in self.formula.offsets:
            needed |= _expr_vars(expr, data)
        for f in self.factors:
            needed |= set(f.columns)
            for expr in f.term_exprs:
                needed |= set(_formula_vars(expr))
        _check_columns(data, needed, self.formula.text, role="predictor")
        used = [c for c in data.columns if c in needed]
        na = data[used].isna()
        if na.to_numpy().any():
            col = next(c for c in used if na[c].any())
            raise DataError(
                f"the new data have missing values in column {col!r} ({row_list(data.index, na[col].to_numpy())}); "
                "predictions need every predictor and grouping column"
            )
        for col, known in self.categories:
            if col not in data.columns:
                continue
            values = data[col].astype(str).to_numpy()
            unseen = ~np.isin(values, known)
            if unseen.any():
                levels = sorted(set(values[unseen]))
                raise DataError(
                    f"column {col!r} of the new data has categories not seen in fitting: {levels[:10]} "
                    f"({row_list(data.index, unseen)}); the fitted categories are {list(known)[:10]}"
                )
        X = _materialize(self.fixed_spec, data, self.formula.text)
        if self.intercept_dropped:
            X = X[:, [j for j, t in enumerate(self.fixed_spec.column_names) if t != "Intercept"]]
        index, Zs = {}, {}
        for f in self.factors:
            labels = group_labels(data, f.columns)
            lookup = {lev: i for i, lev in enumerate(f.levels)}
            idx = np.array([lookup.get(v, -1) for v in labels], dtype=np.int64)
            if new_levels == "error" and (idx < 0).any():
                unseen = sorted(set(labels[idx < 0]), key=natural_key)
                raise DataError(
                    f"factor {f.name!r} has levels not in the fitted data: {unseen[:10]}"
                    + (f" and {len(unseen) - 10} more" if len(unseen) > 10 else "")
                    + f" ({row_list(data.index, idx < 0)})"
                )
            index[f.name] = idx
            Zs[f.name] = np.column_stack([_materialize(s, data, self.formula.text) for s in f.term_specs])
        X = self._with_level2_columns(X, index, Zs, data)
        _check_finite(X, self.terms, data.index, "population-level")
        offset = None
        for expr in self.formula.offsets:
            values = _response_series(data, expr, self.formula.text).to_numpy(dtype=float)
            offset = values if offset is None else offset + values
        return NewData(X=X, index=index, Z=Zs, offset=offset)

    def trials(self, data: pd.DataFrame) -> np.ndarray | None:
        """The binomial trials of each row of ``data`` (None for other responses).

        ``s | trials(n)`` reads ``n``; ``cbind(s, f)`` needs both columns (``n = s + f``).
        """
        resp = self.formula.response
        if resp.kind == "plain":
            return None
        exprs = (resp.other,) if resp.kind == "trials" else (resp.expr, resp.other)
        needed: set[str] = set()
        for e in exprs:
            needed |= _expr_vars(e, data)
        _check_columns(data, needed, self.formula.text, role="trials")
        values = [_response_series(data, e, self.formula.text).to_numpy(dtype=float) for e in exprs]
        n = values[0] if len(values) == 1 else values[0] + values[1]
        bad = ~np.isfinite(n) | (n < 0) | (n != np.round(n))
        if bad.any():
            raise DataError(
                f"the trials of the new data are not non-negative integers in {row_list(data.index, bad)}"
            )
        return n.astype(np.int64)

    def _with_level2_columns(self, X: np.ndarray, index: dict, Zs: dict, data: pd.DataFrame) -> np.ndarray:
        """Append the columns explicit level-two formulas added (see :func:`level2.new_columns`)."""
        if X.shape[1] == len(self.terms):
            return X
        extra = self.terms[X.shape[1] :]
        return np.column_stack([X, *new_columns(extra, self.level2, self.factor, index, Zs, data)])


@dataclass(frozen=True)
class NewData:
    """New data encoded by :meth:`Design.encode`."""

    X: np.ndarray
    index: dict[str, np.ndarray]
    Z: dict[str, np.ndarray]
    offset: np.ndarray | None = None


def _formula_vars(expr: str) -> set[str]:
    """Columns a formula side names (checked against the formula language first)."""
    return set(language.check_side(expr))


def _expr_vars(expr: str, data: pd.DataFrame) -> set[str]:
    """Columns an expression uses: the column itself when it is one, else the expression's names."""
    return {expr} if expr in data.columns else set(language.check_expression(expr))


def _check_columns(data: pd.DataFrame, needed: set[str], formula: str, role: str) -> None:
    missing = [c for c in sorted(needed) if c not in data.columns]
    if not missing:
        return
    parts = []
    for col in missing:
        close = difflib.get_close_matches(col, [str(c) for c in data.columns], n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        pos = formula.find(col)
        where = f" at position {pos} of the formula" if pos >= 0 else ""
        parts.append(f"{col!r}{where}{hint}")
    raise DataError(
        f"unknown {role} column{'s' if len(missing) > 1 else ''} {'; '.join(parts)}; "
        f"the data have columns {[str(c) for c in data.columns]}"
    )


def _materialize(spec, data: pd.DataFrame, formula: str) -> np.ndarray:
    return language.encode(spec, data, formula)


def _rank_check(X: np.ndarray, names: tuple[str, ...]) -> None:
    """Name the column that makes the population design rank deficient.

    Scale-invariant: with an intercept the other columns are centred first (so ``x + 1e9``
    is not mistaken for the intercept), and every column is scaled by its largest value.
    """
    if X.shape[1] == 0:
        return
    X0 = X
    if "Intercept" in names:
        i0 = names.index("Intercept")
        X = X - X.mean(axis=0)
        X[:, i0] = 1.0
        for j in range(X.shape[1]):
            if (
                j != i0
                and np.abs(X[:, j]).max() <= 1e-12 * max(1.0, np.abs(X0[:, j]).max())
                and X0[:, j].any()
            ):
                raise DataError(
                    f"the population-level design is rank deficient: column {names[j]!r} is a linear "
                    "combination of 'Intercept' (it is constant); drop it from the formula"
                )
    scale = np.where(np.abs(X).max(axis=0) > 0, np.abs(X).max(axis=0), 1.0)
    Xs = X / scale
    kept: list[int] = []
    for j in range(Xs.shape[1]):
        cand = kept + [j]
        if np.linalg.matrix_rank(Xs[:, cand], tol=1e-8 * np.sqrt(X.shape[0])) == len(cand):
            kept.append(j)
            continue
        col = names[j]
        if not np.any(Xs[:, j]):
            raise DataError(
                f"the population-level design is rank deficient: column {col!r} is all zeros "
                "(a level or interaction that never occurs in these rows?)"
            )
        coef, *_ = np.linalg.lstsq(Xs[:, kept], Xs[:, j], rcond=None)
        involved = [names[kept[i]] for i in np.flatnonzero(np.abs(coef) > 1e-6)]
        raise DataError(
            f"the population-level design is rank deficient: column {col!r} is a linear "
            f"combination of {', '.join(repr(c) for c in involved)}; drop one of them from the formula"
        )
    if X.shape[0] < X.shape[1]:
        raise DataError(f"{X.shape[0]} rows cannot identify {X.shape[1]} population-level terms")


def _response_series(data: pd.DataFrame, expr: str, formula: str) -> pd.Series:
    if expr in data.columns:
        return data[expr]
    language.check_expression(expr, formula, max(formula.find(expr), 0))
    mm = language.model_matrix(f"0 + I({expr})", data, formula)
    return pd.Series(np.asarray(mm)[:, 0], index=data.index, name=expr)


def make_design(
    formula: str | FormulaSpec,
    data: pd.DataFrame,
    na_action: str = "drop",
    level2: Mapping | None = None,
    group_data: Mapping | None = None,
    intercept: bool = True,
) -> Design:
    """Build the :class:`Design` of ``formula`` on ``data``.

    Parameters
    ----------
    formula : str or FormulaSpec
        lme4-style formula.
    data : pandas.DataFrame
        One row per observation.
    na_action : {"drop", "raise"}
        Rows with a missing value in a used column are dropped with a warning
        that says how many, or make a :class:`DataError` naming them.
    level2 : dict, optional
        Explicit level-two formulas, ``{factor: {coefficient: "~ w1 + w2"}}``.
    group_data : dict, optional
        Group-level frames per factor, keyed by the factor's levels (index or a
        column named like the factor); default: the columns of ``data``.
    intercept : bool
        False drops the formula's intercept column after encoding, for families whose
        cutpoints take its place (ordinal): categorical predictors keep their
        treatment contrasts, and a column confounded with the intercept is still found.

    Returns
    -------
    Design
    """
    spec = parse_formula(formula) if isinstance(formula, str) else formula
    if not isinstance(data, pd.DataFrame):
        raise argument_error("data", type(data).__name__, "a pandas DataFrame")
    if na_action not in ("drop", "raise"):
        raise argument_error("na_action", na_action, "'drop' or 'raise'")
    text = spec.text

    # ---- which columns are used, and do they exist
    resp_vars: set[str] = set()
    for expr in (spec.response.expr, spec.response.other):
        if expr is None:
            continue
        resp_vars |= _expr_vars(expr, data)
    _check_columns(data, resp_vars, text, role="response")
    fixed_vars = _formula_vars(spec.fixed)
    for expr in spec.offsets:
        fixed_vars |= _expr_vars(expr, data)
    _check_columns(data, fixed_vars, text, role="predictor")
    for g in spec.groups:
        _check_columns(data, _formula_vars(g.expr), text, role="varying-coefficient")
        _check_columns(data, set(g.factors), text, role="grouping")
    used = set(resp_vars) | set(fixed_vars)
    for g in spec.groups:
        used |= _formula_vars(g.expr) | set(g.factors)
    for fname, per_coef in (level2 or {}).items():
        if group_data and fname in group_data:
            continue
        for l2text in per_coef.values() if isinstance(per_coef, Mapping) else []:
            rhs = l2text.split("~", 1)[1] if "~" in l2text else l2text
            used |= {v for v in _formula_vars(rhs) if v in data.columns}
    used_cols = [c for c in data.columns if c in used]
    counts = pd.Series(used_cols).value_counts()
    if (counts > 1).any():
        name = counts.index[counts > 1][0]
        raise DataError(f"column name {name!r} appears {counts[name]} times in the data; rename the copies")

    predictor_cols = fixed_vars | {v for g in spec.groups for v in _formula_vars(g.expr)}
    for col in sorted(c for c in predictor_cols if c in data.columns):
        kind = data[col].dtype.kind
        if kind in "mM":
            raise DataError(
                f"predictor column {col!r} holds {'durations' if kind == 'm' else 'dates'} ({data[col].dtype}); "
                "convert it to a number (e.g. days since the first date) or to labels (a category)"
            )

    # ---- missing values
    na = data[used_cols].isna()
    bad = na.any(axis=1)
    n_bad = int(bad.sum())
    if n_bad:
        per_col = {c: int(n) for c, n in na.sum().items() if n}
        detail = (
            f"missing values in {n_bad} row(s) ({row_list(data.index, bad.to_numpy())}; per column {per_col})"
        )
        if na_action == "raise":
            raise DataError(detail + "; pass na_action='drop' to drop them")
        warnings.warn(f"dropped {n_bad} of {len(data)} rows with {detail}", UserWarning, stacklevel=3)
        data = data.loc[~bad]
    if len(data) == 0:
        raise DataError("no rows left to fit (every row has a missing value or the data are empty)")

    # ---- response
    y = _response_series(data, spec.response.expr, text)
    y_other = None
    if spec.response.other is not None:
        y_other = _response_series(data, spec.response.other, text)

    # ---- offsets
    offset = None
    for expr in spec.offsets:
        values = _response_series(data, expr, text).to_numpy(dtype=float)
        _check_finite(values[:, None], [f"offset({expr})"], data.index, "offset")
        offset = values if offset is None else offset + values

    # ---- population design
    mm = language.model_matrix(spec.fixed, data, text)
    X = np.asarray(mm, dtype=float)
    terms = tuple(str(c) for c in mm.columns)
    _check_finite(X, terms, data.index, "population-level")

    # ---- group-level designs, merged per factor
    by_factor: dict[str, list[GroupTerm]] = {}
    for g in spec.groups:
        by_factor.setdefault(g.factor, []).append(g)
    factors = []
    for name, gterms in by_factor.items():
        factors.append(_factor_design(name, gterms, data, text))

    # ---- explicit level-two formulas become population columns Z_c * W[group]
    if level2:
        names, cols, needed = explicit_columns(
            level2, factors, terms, data, group_data, lambda f: group_labels(data, f.columns)
        )
        if needed:
            raise FormulaError(
                f"level-two formulas with an intercept need the population term(s) {needed} in the "
                "formula (the level-two intercept is that term's coefficient)",
                text,
            )
        if names:
            X = np.column_stack([X, *cols])
            terms = terms + tuple(names)
    elif group_data:
        raise DataError("group_data is given but no level2 formulas use it")
    _rank_check(X, terms)
    dropped = not intercept and "Intercept" in terms
    if dropped:
        keep = [j for j, t in enumerate(terms) if t != "Intercept"]
        X, terms = X[:, keep], tuple(terms[j] for j in keep)
    level2_terms = detect(X, terms, factors)

    categories = tuple(
        (c, tuple(sorted(pd.unique(data[c].astype(str)), key=natural_key)))
        for c in sorted(fixed_vars | {v for g in spec.groups for v in _formula_vars(g.expr)})
        if c in data.columns
        and (not pd.api.types.is_numeric_dtype(data[c]) or pd.api.types.is_bool_dtype(data[c]))
    )
    return Design(
        formula=spec,
        y=y,
        y_other=y_other,
        X=X,
        terms=terms,
        fixed_spec=mm.model_spec,
        factors=tuple(factors),
        rows=data.index,
        n_dropped=n_bad,
        offset=offset,
        level2=level2_terms,
        categories=categories,
        columns=tuple(used_cols),
        intercept_dropped=dropped,
    )


def _check_finite(M: np.ndarray, names, index, what: str) -> None:
    nonfinite = ~np.isfinite(M)
    if nonfinite.any():
        j = int(np.flatnonzero(nonfinite.any(axis=0))[0])
        raise DataError(
            f"the {what} column {names[j]!r} has non-finite values (inf or NaN after transforming) "
            f"in {row_list(index, nonfinite[:, j])}"
        )


def _factor_design(name: str, gterms: list[GroupTerm], data: pd.DataFrame, text: str) -> FactorDesign:
    columns = gterms[0].factors
    for col in columns:
        check_grouping_column(data, col)
    labels = group_labels(data, columns)
    levels = sorted_levels(data, columns, labels)
    if len(levels) < 2:
        raise DataError(
            f"grouping factor {name!r} has a single level ({levels[0]!r}) in the data; "
            "a group-level SD needs at least two groups"
        )
    lookup = {lev: i for i, lev in enumerate(levels)}
    index = np.fromiter((lookup[v] for v in labels), dtype=np.int64, count=len(labels))

    Zcols, coefs, blocks, specs, exprs = [], [], [], [], []
    for g in gterms:
        mm = language.model_matrix(g.expr, data, text)
        names = [str(c) for c in mm.columns]
        if not names:
            raise FormulaError(f"the group term ({g.expr} | {name}) has no coefficients", text, g.position)
        Z = np.asarray(mm, dtype=float)
        _check_finite(Z, names, data.index, f"varying-coefficient ({name})")
        start = len(coefs)
        for n in names:
            if n in coefs:
                raise FormulaError(
                    f"coefficient {n!r} varies by {name!r} in two group terms; write it once",
                    text,
                    g.position,
                )
            coefs.append(n)
        idx = tuple(range(start, start + len(names)))
        if g.correlated:
            blocks.append(idx)
        else:
            blocks.extend((i,) for i in idx)
        Zcols.append(Z)
        specs.append(mm.model_spec)
        exprs.append(g.expr)
    return FactorDesign(
        name=name,
        columns=columns,
        levels=tuple(levels),
        index=index,
        Z=np.column_stack(Zcols),
        coefs=tuple(coefs),
        blocks=tuple(blocks),
        term_specs=tuple(specs),
        term_exprs=tuple(exprs),
    )
