"""Continuous responses: ``gaussian``, robust ``student``, positive ``gamma`` and ``lognormal``,
proportions ``beta``.

Default priors of the extra parameters follow brms: ``sigma`` ``half_student_t(3, s)``
with ``s`` the response's SD (of ``log y`` for the lognormal), ``nu`` ``gamma(2, 0.1)``,
the gamma's ``shape`` and the beta's ``phi`` ``gamma(0.01, 0.01)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pymc as pm
from scipy import special

from bayesmix.errors import DataError
from bayesmix.spec.families.base import (
    Aux,
    Family,
    PriorScales,
    bad_rows,
    no_trials,
    numeric,
    positive,
    value,
)
from bayesmix.spec.priors import Prior

__all__ = ["Gaussian", "StudentT", "Gamma", "LogNormal", "Beta"]

_LOG_2PI = float(np.log(2.0 * np.pi))


def _sd_scales(y) -> PriorScales:
    s = float(np.std(y, ddof=1))
    return PriorScales(float(np.mean(y)), 2.5 * s, 2.5 * s, s)


def _row_sigma(sigma, data):
    """``sigma`` per row: divided by ``sqrt(w)`` under analytic weights."""
    w = data.get("weights")
    if w is not None and data.get("weights_kind") == "analytic":
        return sigma / np.sqrt(w)
    return sigma


@dataclass(frozen=True)
class Gaussian(Family):
    """Normal response with identity link and residual SD ``sigma``."""

    name: str = "gaussian"
    link: str = "identity"
    dispersed: ClassVar[bool] = True
    has_sigma: ClassVar[bool] = True

    def prepare(self, y, other, kind="plain"):
        no_trials(other)
        arr = numeric(y, self.name)
        if np.std(arr) == 0:
            raise DataError(f"the response {y.name!r} is constant ({arr[0]!r}); nothing to model")
        return {"y": arr}

    def prior_scales(self, data):
        return _sd_scales(data["y"])

    def aux(self, data):
        return (Aux("sigma", "residual SD"),)

    def aux_priors(self, data):
        return {"sigma": Prior("half_student_t", (3.0, float(np.std(data["y"], ddof=1))))}

    def distribution(self, eta, data, aux):
        sigma = aux["sigma"]
        w = data.get("weights")
        if w is not None and data.get("weights_kind") == "analytic":
            sigma = sigma / pm.math.sqrt(w)
        return pm.Normal, {"mu": eta, "sigma": sigma}

    def inverse_link(self, eta):
        return np.asarray(eta, dtype=float)

    def density(self, y, eta, data, aux=None):
        sigma = _row_sigma(value(aux, "sigma"), data)
        # in place on one (draws x rows) array: a fit's log likelihood is millions of numbers
        out = np.empty(np.broadcast_shapes(np.shape(y), np.shape(eta), np.shape(sigma)))
        np.subtract(y, eta, out=out)
        out /= sigma
        np.square(out, out=out)
        out *= -0.5
        out -= 0.5 * _LOG_2PI + np.log(sigma)
        return out

    def random(self, eta, data, rng, aux=None):
        eta = np.asarray(eta, dtype=float)
        sigma = _row_sigma(value(aux, "sigma"), data)
        return eta + np.broadcast_to(sigma, eta.shape) * rng.standard_normal(eta.shape)

    def variance(self, eta, data, aux=None):
        return np.broadcast_to(_row_sigma(value(aux, "sigma"), data) ** 2, np.shape(eta))

    def latent_residual(self, data, aux=None):
        return value(aux, "sigma") ** 2, "sigma^2"


@dataclass(frozen=True)
class StudentT(Gaussian):
    """Robust regression: Student-t errors with scale ``sigma`` and degrees of freedom ``nu``.

    Rows far from the fit count for less than under the normal (brms's ``student``).
    ``nu`` has brms's ``gamma(2, 0.1)`` prior (mean 20: near-normal unless the data say
    otherwise).  R^2 uses the variance ``sigma^2 nu / (nu - 2)`` (infinite for ``nu <= 2``);
    the ICC uses ``sigma^2``.
    """

    name: str = "student"

    def aux(self, data):
        return (Aux("sigma", "scale of the t errors"), Aux("nu", "degrees of freedom"))

    def aux_priors(self, data):
        return super().aux_priors(data) | {"nu": Prior("gamma", (2.0, 0.1))}

    def distribution(self, eta, data, aux):
        _, kw = super().distribution(eta, data, aux)
        return pm.StudentT, kw | {"nu": aux["nu"]}

    def density(self, y, eta, data, aux=None):
        sigma = _row_sigma(value(aux, "sigma"), data)
        nu = value(aux, "nu")
        z = (y - eta) / sigma
        return (
            special.gammaln((nu + 1) / 2)
            - special.gammaln(nu / 2)
            - 0.5 * np.log(nu * np.pi)
            - np.log(sigma)
            - (nu + 1) / 2 * np.log1p(z**2 / nu)
        )

    def random(self, eta, data, rng, aux=None):
        eta = np.asarray(eta, dtype=float)
        sigma = np.broadcast_to(_row_sigma(value(aux, "sigma"), data), eta.shape)
        nu = np.broadcast_to(value(aux, "nu"), eta.shape)
        return eta + sigma * rng.standard_t(nu)

    def variance(self, eta, data, aux=None):
        nu = value(aux, "nu")
        factor = np.where(nu > 2, nu / np.maximum(nu - 2, 1e-300), np.inf)
        return np.broadcast_to(_row_sigma(value(aux, "sigma"), data) ** 2 * factor, np.shape(eta))


@dataclass(frozen=True)
class Gamma(Family):
    """Positive, right-skewed responses (costs, times): mean ``exp(eta)``, variance ``mu^2 / shape``."""

    name: str = "gamma"
    link: str = "log"
    links: ClassVar[tuple[str, ...]] = ("log",)
    dispersed: ClassVar[bool] = True

    def prepare(self, y, other, kind="plain"):
        no_trials(other)
        return {"y": positive(y, self.name)}

    def placeholder(self, n, rng):
        return np.exp(rng.standard_normal(n))

    def prior_scales(self, data):
        return PriorScales(float(np.log(np.mean(data["y"]))), 2.5, 2.5, 2.5)

    def aux(self, data):
        return (Aux("shape", "variance mu^2/shape"),)

    def aux_priors(self, data):
        return {"shape": Prior("gamma", (0.01, 0.01))}

    def distribution(self, eta, data, aux):
        shape = aux["shape"]
        return pm.Gamma, {"alpha": shape, "beta": shape * pm.math.exp(-eta)}

    def inverse_link(self, eta):
        return np.exp(eta)

    def density(self, y, eta, data, aux=None):
        a = value(aux, "shape")
        eta = np.asarray(eta)
        return a * (np.log(a) - eta) - special.gammaln(a) + (a - 1) * np.log(y) - a * y * np.exp(-eta)

    def random(self, eta, data, rng, aux=None):
        a = value(aux, "shape")
        mu = np.exp(eta)
        return rng.gamma(np.broadcast_to(a, np.shape(mu)), mu / a)

    def variance(self, eta, data, aux=None):
        return np.exp(2 * np.asarray(eta)) / value(aux, "shape")

    def latent_residual(self, data, aux=None):
        return special.polygamma(1, value(aux, "shape")), "trigamma(shape) (gamma, log link)"

    @property
    def ratio_name(self):
        return "ratio of means"


@dataclass(frozen=True)
class LogNormal(Family):
    """Positive responses whose log is normal: ``log y ~ N(eta, sigma)``, mean ``exp(eta + sigma^2/2)``."""

    name: str = "lognormal"
    link: str = "identity"  # of log(y); brms calls it identity too
    links: ClassVar[tuple[str, ...]] = ("identity",)
    dispersed: ClassVar[bool] = True
    has_sigma: ClassVar[bool] = True

    def prepare(self, y, other, kind="plain"):
        no_trials(other)
        arr = positive(y, self.name)
        if np.std(np.log(arr)) == 0:
            raise DataError(f"the response {y.name!r} is constant ({arr[0]!r}); nothing to model")
        return {"y": arr}

    def placeholder(self, n, rng):
        return np.exp(rng.standard_normal(n))

    def describe(self, data):
        return f"{self.name} (link: identity, on log y)"

    def prior_scales(self, data):
        return _sd_scales(np.log(data["y"]))

    def aux(self, data):
        return (Aux("sigma", "SD of log y"),)

    def aux_priors(self, data):
        return {"sigma": Prior("half_student_t", (3.0, float(np.std(np.log(data["y"]), ddof=1))))}

    def distribution(self, eta, data, aux):
        return pm.LogNormal, {"mu": eta, "sigma": aux["sigma"]}

    def inverse_link(self, eta):
        return np.exp(eta)  # the median; the mean is mean()

    def mean(self, eta, data, aux=None):
        return np.exp(np.asarray(eta) + value(aux, "sigma") ** 2 / 2)

    def density(self, y, eta, data, aux=None):
        sigma = value(aux, "sigma")
        ly = np.log(y)
        z = (ly - eta) / sigma
        return -ly - 0.5 * _LOG_2PI - np.log(sigma) - 0.5 * z**2

    def random(self, eta, data, rng, aux=None):
        eta = np.asarray(eta, dtype=float)
        sigma = np.broadcast_to(value(aux, "sigma"), eta.shape)
        return np.exp(eta + sigma * rng.standard_normal(eta.shape))

    def variance(self, eta, data, aux=None):
        s2 = value(aux, "sigma") ** 2
        return np.expm1(s2) * np.exp(2 * np.asarray(eta) + s2)

    def latent_residual(self, data, aux=None):
        return value(aux, "sigma") ** 2, "sigma^2 (of log y)"

    @property
    def ratio_name(self):
        return "ratio of medians"


@dataclass(frozen=True)
class Beta(Family):
    """Proportions strictly inside (0, 1): mean ``mu = inverse_link(eta)``, precision ``phi``.

    ``y ~ Beta(mu phi, (1 - mu) phi)``, variance ``mu (1 - mu) / (1 + phi)`` (brms's
    ``Beta``).  Rows at exactly 0 or 1 are refused by row (transform them, e.g.
    ``(y (n - 1) + 0.5) / n``, or model them as binomial counts).
    """

    name: str = "beta"
    link: str = "logit"
    links: ClassVar[tuple[str, ...]] = ("logit", "probit")
    dispersed: ClassVar[bool] = True

    def prepare(self, y, other, kind="plain"):
        no_trials(other)
        arr = numeric(y, self.name)
        bad = (arr <= 0) | (arr >= 1)
        if bad.any():
            raise DataError(
                f"the beta family needs values strictly between 0 and 1; {y.name!r} is outside (0, 1) in "
                f"{bad_rows(y, bad)}: transform them (e.g. (y * (n - 1) + 0.5) / n) or model counts "
                "as binomial"
            )
        return {"y": arr}

    def placeholder(self, n, rng):
        return np.full(n, 0.5)

    def aux(self, data):
        return (Aux("phi", "variance mu(1-mu)/(1+phi)"),)

    def aux_priors(self, data):
        return {"phi": Prior("gamma", (0.01, 0.01))}

    def _mu(self, eta):
        return special.ndtr(eta) if self.link == "probit" else special.expit(eta)

    def distribution(self, eta, data, aux):
        mu = pm.math.invprobit(eta) if self.link == "probit" else pm.math.sigmoid(eta)
        phi = aux["phi"]
        return pm.Beta, {"alpha": mu * phi, "beta": (1 - mu) * phi}

    def inverse_link(self, eta):
        return self._mu(eta)

    def density(self, y, eta, data, aux=None):
        phi = value(aux, "phi")
        mu = self._mu(eta)
        a, b = mu * phi, (1 - mu) * phi
        return (
            special.gammaln(phi)
            - special.gammaln(a)
            - special.gammaln(b)
            + (a - 1) * np.log(y)
            + (b - 1) * np.log1p(-y)
        )

    def random(self, eta, data, rng, aux=None):
        phi = value(aux, "phi")
        mu = self._mu(eta)
        draws = rng.beta(mu * phi, (1 - mu) * phi)
        # a draw that rounds to 0 or 1 in float64 (tiny phi) is kept just inside (0, 1)
        tiny = np.finfo(float).tiny
        return np.clip(draws, tiny, 1 - np.finfo(float).epsneg)

    def variance(self, eta, data, aux=None):
        mu = self._mu(eta)
        return mu * (1 - mu) / (1 + value(aux, "phi"))

    def latent_residual(self, data, aux=None):
        m = float(np.mean(data["y"]))
        phi = value(aux, "phi")
        return (
            special.polygamma(1, m * phi) + special.polygamma(1, (1 - m) * phi),
            f"trigamma({m:.3g} phi) + trigamma({1 - m:.3g} phi) (variance of logit y under the beta)",
        )

    @property
    def ratio_name(self):
        return "odds ratio" if self.link == "logit" else None
