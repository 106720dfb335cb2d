"""Conditional effects of one predictor (brms's ``conditional_effects``), as a table to plot.

The predictor runs over a grid (50 points from its minimum to its maximum, or its
categories) while every other column is held at a reference value: numeric columns at
their mean, categorical ones at their first category (brms's convention).  The table
gives the posterior mean and central interval of the prediction at each grid point:

* population level (group effects at 0: lme4's ``re.form = NA``), and
* optionally per group of one factor, conditional on that group's effects, with that
  group's own numeric means (its level-two predictors at their values).

``kind="mean"`` reports the mean of one trial (a probability for Bernoulli and binomial
models, a rate for Poisson models at the mean offset), ``kind="link"`` the linear
predictor.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayesmix.errors import argument_error
from bayesmix.post.predict import predict
from bayesmix.spec.design import Design
from bayesmix.spec.labels import group_labels

__all__ = ["conditional_effects", "reference_row"]


def reference_row(data: pd.DataFrame) -> dict:
    """Each column's reference value: the mean of a numeric column, else the first category."""
    ref = {}
    for col in data.columns:
        s = data[col]
        if pd.api.types.is_bool_dtype(s):
            ref[col] = bool(s.iloc[0]) if s.nunique() == 1 else False
        elif pd.api.types.is_numeric_dtype(s):
            ref[col] = float(s.mean())
        elif isinstance(s.dtype, pd.CategoricalDtype):
            ref[col] = s.cat.categories[0]
        else:
            ref[col] = sorted(s.dropna().astype(str).unique())[0]
    return ref


def _grid(data: pd.DataFrame, effect: str, n_points: int) -> tuple[np.ndarray | list, bool]:
    s = data[effect]
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) and s.nunique() > 2:
        return np.linspace(float(s.min()), float(s.max()), n_points), True
    if isinstance(s.dtype, pd.CategoricalDtype):
        return list(s.cat.categories), False
    return sorted(s.dropna().unique().tolist()), False


def conditional_effects(
    post,
    design: Design,
    family,
    response_data: dict,
    data: pd.DataFrame,
    effect: str,
    factor: str | None = None,
    levels=None,
    n_points: int = 50,
    kind: str = "mean",
    prob: float = 0.95,
) -> pd.DataFrame:
    """The table of conditional effects; see the module docstring.

    Parameters
    ----------
    post : xarray.Dataset
        The fit's posterior.
    design, family, response_data
        The fitted model's design, family and response arrays.
    data : pandas.DataFrame
        The fitted rows (``fit.model.data``): the grid's ranges and reference values.
    effect : str
        The predictor column to vary.
    factor : str, optional
        Also give each group's curve for this factor.
    levels : list, optional
        The groups to show (default: all of the factor's).
    n_points : int
        Grid points for a numeric predictor.
    kind : {"mean", "link"}
    prob : float
        Mass of the interval.

    Returns
    -------
    pandas.DataFrame
        Columns ``effect`` (the grid), ``group`` (``"population"`` or the level),
        ``mean``, ``lower``, ``upper``; ``attrs`` name the predictor, whether it is
        numeric, the kind and the reference values used.
    """
    if effect not in data.columns:
        raise argument_error("effect", effect, f"a predictor column of the model: {list(data.columns)}")
    if kind not in ("mean", "link"):
        raise argument_error("kind", kind, "'mean' or 'link'")
    if not isinstance(n_points, int) or n_points < 2:
        raise argument_error("n_points", n_points, "an integer >= 2")
    grouping = {c for f in design.factors for c in f.columns}
    if effect in grouping:
        raise argument_error("effect", effect, "a predictor, not a grouping column")
    grid, numeric = _grid(data, effect, n_points)
    ref = reference_row(data)
    frames = []

    def summarise(frame: pd.DataFrame, groups, label) -> None:
        eta = predict(post, design, family, response_data, frame, kind="link", groups=groups).draws
        vals = eta.values if kind == "link" else family.inverse_link(eta.values)
        flat = vals.reshape(-1, vals.shape[-1])
        lo, hi = np.quantile(flat, [(1 - prob) / 2, 1 - (1 - prob) / 2], axis=0)
        frames.append(
            pd.DataFrame(
                {"effect": grid, "group": label, "mean": flat.mean(axis=0), "lower": lo, "upper": hi}
            )
        )

    base = pd.DataFrame({c: [v] * len(grid) for c, v in ref.items()})
    base[effect] = grid
    for c in grouping:  # any fitted level: the population curve uses no group effect
        base[c] = data[c].iloc[0]
    summarise(base, None, "population")
    if factor is not None:
        f = design.factor(factor)
        labels = group_labels(data, f.columns).astype(str)
        chosen = list(f.levels) if levels is None else [str(v) for v in levels]
        unknown = [v for v in chosen if v not in set(f.levels)]
        if unknown:
            raise argument_error("levels", unknown[:5], f"levels of {factor!r} (e.g. {list(f.levels)[:5]})")
        for level in chosen:
            rows = data[labels == level]
            frame = base.copy()
            for c in data.columns:
                if (
                    c != effect
                    and pd.api.types.is_numeric_dtype(data[c])
                    and not pd.api.types.is_bool_dtype(data[c])
                ):
                    frame[c] = float(rows[c].mean())
            for c in grouping:
                frame[c] = rows[c].iloc[0]
            summarise(frame, [f.name], level)
    out = pd.concat(frames, ignore_index=True)
    out.attrs.update({"effect": effect, "numeric": numeric, "kind": kind, "prob": prob, "factor": factor})
    return out
