"""Ordinal responses: the ``cumulative`` family (proportional odds; logit or probit link).

``P(y <= k) = F(c_k - eta)`` for the ``K - 1`` increasing cutpoints ``c_k`` (brms's
``Intercept[k]``, Stata's ``/cut k``), with ``F`` the logistic or standard normal CDF.
The linear predictor has no intercept: the cutpoints take its place, so a positive
effect moves the whole distribution up the scale (``meologit``'s and brms's sign).

The response is an ordered categorical column (its categories in their order, with
labels kept for simulated data) or integers (categories ``min(y)..max(y)``; every value in
between must occur).  Internally the rows hold the category index ``0..K-1``; means and
simulated responses are on the data's scale (the integers, or ``1..K`` for labels).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import pymc as pm
from scipy import special

from bayesmix.errors import DataError
from bayesmix.spec.families.base import Aux, Family, bad_rows, no_trials, numeric, value
from bayesmix.spec.priors import Prior

__all__ = ["Cumulative"]


@dataclass(frozen=True)
class Cumulative(Family):
    """Cumulative (proportional-odds) model of an ordered response."""

    name: str = "cumulative"
    link: str = "logit"
    links: ClassVar[tuple[str, ...]] = ("logit", "probit")
    #: no per-row category probabilities stored in the trace
    observed_options: ClassVar[dict] = {"compute_p": False}

    @property
    def has_intercept(self):
        return False

    def prepare(self, y, other, kind="plain"):
        no_trials(other)
        if isinstance(y.dtype, pd.CategoricalDtype):
            if not y.cat.ordered:
                raise DataError(
                    f"the cumulative family needs an ordered response; {y.name!r} is an unordered "
                    f"categorical (categories {list(y.cat.categories)[:8]}): make it ordered, e.g. "
                    f"df[{str(y.name)!r}] = pd.Categorical(df[{str(y.name)!r}], categories=[...], ordered=True)"
                )
            labels = [str(c) for c in y.cat.categories]
            codes = y.cat.codes.to_numpy().astype(np.int64)
            scores = np.arange(1, len(labels) + 1, dtype=float)
            empty = [labels[k] for k in range(len(labels)) if not (codes == k).any()]
            if empty:
                raise DataError(
                    f"categories {empty} of the ordinal response {y.name!r} have no rows; drop them "
                    "(y.cat.remove_unused_categories()) or merge them with a neighbour"
                )
        elif pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y):
            arr = numeric(y, self.name)
            bad = arr != np.round(arr)
            if bad.any():
                raise DataError(
                    f"an ordinal response given as numbers must be integers; {y.name!r} is not in "
                    f"{bad_rows(y, bad)}"
                )
            lo, hi = int(arr.min()), int(arr.max())
            present = set(arr.astype(np.int64).tolist())
            missing = [v for v in range(lo, hi + 1) if v not in present]
            if missing:
                raise DataError(
                    f"the ordinal response {y.name!r} runs from {lo} to {hi} but no row has {missing}: "
                    "recode it to consecutive integers, or give it as an ordered categorical"
                )
            codes = (arr - lo).astype(np.int64)
            scores = np.arange(lo, hi + 1, dtype=float)
            labels = None
        else:
            raise DataError(
                f"the cumulative family needs an ordered categorical or integer response; {y.name!r} has "
                f"dtype {y.dtype} (values such as {list(pd.unique(y)[:4])}); give the order with "
                "pd.Categorical(..., categories=[...], ordered=True)"
            )
        if len(scores) < 2:
            raise DataError(f"the response {y.name!r} has one category; nothing to model")
        out = {"y": codes, "scores": scores}
        if labels is not None:
            out["labels"] = tuple(labels)
        return out

    def observed(self, data):
        return np.asarray(data["scores"])[np.asarray(data["y"])]

    def to_column(self, y, data):
        labels = data.get("labels")
        if labels is None:
            return np.asarray(y).astype(np.int64)
        idx = np.asarray(y).astype(np.int64) - 1
        return pd.Categorical.from_codes(idx, categories=list(labels), ordered=True)

    def placeholder(self, n, rng):
        return np.arange(n) % 3 + 1

    def aux(self, data):
        k = len(data["scores"]) - 1
        return (Aux("Intercept", f"{k} cutpoints", size=k),)

    def aux_priors(self, data):
        return {"Intercept": Prior("student_t", (3.0, 0.0, 2.5))}

    def distribution(self, eta, data, aux):
        cls = pm.OrderedProbit if self.link == "probit" else pm.OrderedLogistic
        return cls, {"eta": eta, "cutpoints": aux["Intercept"]}

    def _log_cdf(self, x):
        return special.log_ndtr(x) if self.link == "probit" else special.log_expit(x)

    def probabilities(self, eta, aux):
        """Category probabilities ``(..., N, K)`` given ``eta`` ``(..., N)`` and the cutpoints."""
        c = value(aux, "Intercept")
        eta = np.asarray(eta, dtype=float)[..., None]
        F = special.ndtr(c - eta) if self.link == "probit" else special.expit(c - eta)
        shape = F.shape[:-1]
        cdf = np.concatenate([np.zeros((*shape, 1)), F, np.ones((*shape, 1))], axis=-1)
        return np.diff(cdf, axis=-1)

    def inverse_link(self, eta):
        raise NotImplementedError("the cumulative family's mean needs the cutpoints: use mean()")

    def mean(self, eta, data, aux=None):
        return self.probabilities(eta, aux) @ np.asarray(data["scores"], dtype=float)

    def density(self, y, eta, data, aux=None):
        c = value(aux, "Intercept")
        eta = np.asarray(eta, dtype=float)
        shape = np.broadcast_shapes(eta.shape, c.shape[:-1])
        edge = np.ones((*c.shape[:-1], 1))
        full = np.broadcast_to(
            np.concatenate([-np.inf * edge, c, np.inf * edge], axis=-1), (*shape, c.shape[-1] + 2)
        )
        k = np.broadcast_to(np.asarray(y, dtype=np.int64), shape)[..., None]
        upper = np.take_along_axis(full, k + 1, axis=-1)[..., 0]
        lower = np.take_along_axis(full, k, axis=-1)[..., 0]
        a, b = upper - eta, lower - eta  # log(F(a) - F(b)), a > b
        # below the middle subtract lower-tail CDFs, above it upper-tail ones (no cancellation)
        low_side = (a + b) < 0
        la, lb = self._log_cdf(a), self._log_cdf(b)
        ua, ub = self._log_cdf(-a), self._log_cdf(-b)  # log(1 - F(a)), log(1 - F(b))
        with np.errstate(divide="ignore", invalid="ignore"):
            lower_form = la + np.log1p(-np.exp(lb - la))
            upper_form = ub + np.log1p(-np.exp(ua - ub))
        return np.where(low_side, lower_form, upper_form)

    def random(self, eta, data, rng, aux=None):
        p = self.probabilities(eta, aux)
        u = rng.random(p.shape[:-1])[..., None]
        k = (np.cumsum(p, axis=-1)[..., :-1] < u).sum(axis=-1)
        return np.asarray(data["scores"])[k]

    def variance(self, eta, data, aux=None):
        p = self.probabilities(eta, aux)
        s = np.asarray(data["scores"], dtype=float)
        m = p @ s
        return p @ s**2 - m**2

    def latent_residual(self, data, aux=None):
        if self.link == "probit":
            return 1.0, "1 (standard normal latent errors)"
        return np.pi**2 / 3, "pi^2/3 (logistic latent errors)"

    @property
    def ratio_name(self):
        return "odds ratio" if self.link == "logit" else None
