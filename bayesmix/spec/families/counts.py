"""Count responses with a log link: ``poisson`` and ``negbinomial`` (NB2, brms's ``shape``).

Exposure enters through ``offset(np.log(exposure))`` in the formula, for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pymc as pm
from scipy import special

from bayesmix.spec.families.base import Aux, Family, PriorScales, counts, no_trials, value
from bayesmix.spec.priors import Prior

__all__ = ["Poisson", "NegativeBinomial"]


def _log_rate_scales(data) -> PriorScales:
    rate = max(float(np.mean(data["y"])), 0.1)
    return PriorScales(float(np.log(rate)), 2.5, 2.5, 2.5)


@dataclass(frozen=True)
class Poisson(Family):
    """Counts with log link; exposure through ``offset(np.log(exposure))``."""

    name: str = "poisson"
    link: str = "log"
    links: ClassVar[tuple[str, ...]] = ("log",)

    def prepare(self, y, other, kind="plain"):
        no_trials(other)
        return {"y": counts(y, "counts", self.name)}

    def placeholder(self, n, rng):
        return np.ones(n, dtype=int)

    def prior_scales(self, data):
        return _log_rate_scales(data)

    def distribution(self, eta, data, aux):
        return pm.Poisson, {"mu": pm.math.exp(eta)}

    def inverse_link(self, eta):
        return np.exp(eta)

    def density(self, y, eta, data, aux=None):
        return y * np.asarray(eta) - np.exp(eta) - special.gammaln(y + 1)

    def random(self, eta, data, rng, aux=None):
        return rng.poisson(np.exp(eta))

    def variance(self, eta, data, aux=None):
        return np.exp(eta)

    def latent_residual(self, data, aux=None):
        lam = max(float(np.mean(data["y"])), 1e-9)
        return np.log1p(1.0 / lam), f"log(1 + 1/{lam:.3g}) (Poisson, log-normal approximation)"

    @property
    def ratio_name(self):
        return "rate ratio"


@dataclass(frozen=True)
class NegativeBinomial(Poisson):
    """Overdispersed counts (NB2): mean ``mu = exp(eta)``, variance ``mu + mu^2 / shape``.

    ``shape`` is brms's name (Stata's ``menbreg`` reports ``alpha = 1 / shape``); its default
    prior is brms's ``gamma(0.01, 0.01)``.  As ``shape`` grows the counts become Poisson.
    """

    name: str = "negbinomial"
    dispersed: ClassVar[bool] = True

    def aux(self, data):
        return (Aux("shape", "variance mu + mu^2/shape"),)

    def aux_priors(self, data):
        return {"shape": Prior("gamma", (0.01, 0.01))}

    def distribution(self, eta, data, aux):
        return pm.NegativeBinomial, {"mu": pm.math.exp(eta), "alpha": aux["shape"]}

    def density(self, y, eta, data, aux=None):
        phi = value(aux, "shape")
        eta = np.asarray(eta)
        log_sum = np.logaddexp(np.log(phi), eta)  # log(phi + mu)
        return (
            special.gammaln(y + phi)
            - special.gammaln(phi)
            - special.gammaln(y + 1)
            + phi * (np.log(phi) - log_sum)
            + y * (eta - log_sum)
        )

    def random(self, eta, data, rng, aux=None):
        phi = value(aux, "shape")
        mu = np.exp(eta)
        return rng.poisson(rng.gamma(np.broadcast_to(phi, np.shape(mu)), mu / phi))

    def variance(self, eta, data, aux=None):
        mu = np.exp(eta)
        return mu + mu**2 / value(aux, "shape")

    def latent_residual(self, data, aux=None):
        lam = max(float(np.mean(data["y"])), 1e-9)
        shape = value(aux, "shape")
        return (
            np.log1p(1.0 / lam + 1.0 / shape),
            f"log(1 + 1/{lam:.3g} + 1/shape) (negative binomial, log-normal approximation)",
        )
