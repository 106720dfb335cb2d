"""Binary and binomial responses: ``bernoulli`` (logit or probit) and ``binomial`` (logit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import pymc as pm
from scipy import special

from bayesmix.errors import DataError, row_list
from bayesmix.spec.families.base import Family, bad_rows, counts, log_p, no_trials, numeric

__all__ = ["Bernoulli", "Binomial", "LATENT_RESIDUAL"]

#: latent-scale residual variance by link (Nakagawa & Schielzeth 2013)
LATENT_RESIDUAL = {"logit": (np.pi**2 / 3, "pi^2/3 (logistic)"), "probit": (1.0, "1 (standard normal)")}


@dataclass(frozen=True)
class Bernoulli(Family):
    """Binary response; logit (default) or probit link."""

    name: str = "bernoulli"
    link: str = "logit"
    links: ClassVar[tuple[str, ...]] = ("logit", "probit")

    def prepare(self, y, other, kind="plain"):
        no_trials(other)
        event = None
        if pd.api.types.is_bool_dtype(y):
            arr = y.to_numpy(dtype=float)
            event = "True"
        elif pd.api.types.is_numeric_dtype(y):
            arr = numeric(y, self.name)
            bad = ~np.isin(arr, (0.0, 1.0))
            if bad.any():
                raise DataError(
                    f"a bernoulli response must be 0/1, booleans or two labels; {y.name!r} has other "
                    f"values in {bad_rows(y, bad)}"
                )
        else:
            if isinstance(y.dtype, pd.CategoricalDtype):
                levels = [str(c) for c in y.cat.categories if (y == c).any()]
            else:
                levels = sorted(str(v) for v in pd.unique(y))
            if len(levels) != 2:
                raise DataError(
                    f"a bernoulli response given as labels needs exactly two levels; {y.name!r} has "
                    f"{len(levels)}: {levels[:6]}"
                )
            event = levels[1]
            arr = (y.astype(str) == event).to_numpy(dtype=float)
        if arr.min() == arr.max():
            raise DataError(f"the response {y.name!r} is constant ({arr[0]:.0f}); nothing to model")
        out = {"y": arr.astype(np.int64)}
        if event is not None:
            out["event"] = event
        return out

    def placeholder(self, n, rng):
        return np.arange(n) % 2

    def distribution(self, eta, data, aux):
        if self.link == "probit":
            return pm.Bernoulli, {"p": pm.math.invprobit(eta)}
        return pm.Bernoulli, {"logit_p": eta}

    def inverse_link(self, eta):
        return special.ndtr(eta) if self.link == "probit" else special.expit(eta)

    def density(self, y, eta, data, aux=None):
        return y * log_p(eta, self.link) + (1 - y) * log_p(-np.asarray(eta), self.link)

    def random(self, eta, data, rng, aux=None):
        p = self.inverse_link(eta)
        return (rng.random(np.shape(p)) < p).astype(np.int64)

    def variance(self, eta, data, aux=None):
        p = self.inverse_link(eta)
        return p * (1 - p)

    def latent_residual(self, data, aux=None):
        return LATENT_RESIDUAL[self.link]

    @property
    def ratio_name(self):
        return "odds ratio" if self.link == "logit" else None


@dataclass(frozen=True)
class Binomial(Family):
    """Successes out of trials, logit link."""

    name: str = "binomial"
    link: str = "logit"
    links: ClassVar[tuple[str, ...]] = ("logit",)

    def prepare(self, y, other, kind="plain"):
        if other is None:
            raise DataError(
                "a binomial response needs its trials: write cbind(successes, failures) ~ ... (lme4) "
                "or successes | trials(n) ~ ... (brms)"
            )
        succ = counts(y, "successes", self.name)
        if kind == "cbind":
            fail = counts(other, "failures", self.name)
            n = succ + fail
        else:
            n = counts(other, "trials", self.name)
        zero = n == 0
        if zero.any():
            raise DataError(f"zero trials in {bad_rows(pd.Series(n, index=y.index, name='trials'), zero)}")
        over = succ > n
        if over.any():
            raise DataError(f"successes exceed trials in {int(over.sum())} row(s): {row_list(y.index, over)}")
        return {"y": succ, "n": n}

    def placeholder(self, n, rng):
        return np.zeros(n, dtype=int)

    def distribution(self, eta, data, aux):
        return pm.Binomial, {"n": data["n"], "logit_p": eta}

    def inverse_link(self, eta):
        return special.expit(eta)

    def mean(self, eta, data, aux=None):
        return data["n"] * special.expit(eta)

    def density(self, y, eta, data, aux=None):
        n = data["n"]
        log_choose = special.gammaln(n + 1) - special.gammaln(y + 1) - special.gammaln(n - y + 1)
        return log_choose + y * special.log_expit(eta) + (n - y) * special.log_expit(-np.asarray(eta))

    def random(self, eta, data, rng, aux=None):
        p = special.expit(eta)
        return rng.binomial(np.broadcast_to(data["n"], np.shape(p)), p)

    def variance(self, eta, data, aux=None):
        p = special.expit(eta)
        return data["n"] * p * (1 - p)

    def latent_residual(self, data, aux=None):
        return LATENT_RESIDUAL[self.link]

    @property
    def ratio_name(self):
        return "odds ratio"
