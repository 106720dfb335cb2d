"""Response families: checking the response, default prior scales, the likelihood.

==============  ==========  ===================================================
family          link        response
==============  ==========  ===================================================
``gaussian``    identity    numeric; residual SD ``sigma``
``bernoulli``   logit       0/1, booleans, or a two-level column (probit: ``link="probit"``)
``binomial``    logit       ``cbind(successes, failures)`` or ``successes | trials(n)``
``poisson``     log         non-negative integer counts; exposure via ``offset(np.log(e))``
==============  ==========  ===================================================

Each family has a PyMC side (:meth:`Family.observe`, used by the graph) and a numpy side
used after the fit (predictions, pointwise log-likelihood for LOO, R^2, simulation):
:meth:`Family.mean` (the inverse link times trials), :meth:`Family.logpdf` and
:meth:`Family.random`, all elementwise over arrays of linear predictors such as
``(chain, draw, obs)``, and checked against PyMC's own distributions in the tests.

Default prior scales (see :mod:`bayesmix.priors` for how they are used):
Gaussian priors scale with ``sd(y)``; on the logit, probit and log scales the
intercept gets ``normal(loc, 2.5)`` (``loc`` 0 for logit/probit, the log of the
mean rate for Poisson), slopes ``normal(0, 2.5 / sd(x))`` and group SDs
``half_student_t(3, 2.5)`` as in brms and rstanarm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pymc as pm
from scipy import special

from bayesmix.errors import DataError, argument_error, row_list

__all__ = ["Family", "Gaussian", "Bernoulli", "Binomial", "Poisson", "get_family", "PriorScales"]


@dataclass(frozen=True)
class PriorScales:
    """Data-derived numbers the default priors are built from."""

    intercept_loc: float
    intercept_scale: float
    slope_scale: float  # divided by sd(x) per column
    sd_scale: float
    sigma_scale: float | None = None


def _bad_rows(y: pd.Series, mask: np.ndarray, limit: int = 5) -> str:
    vals = list(y[mask].iloc[:limit])
    return f"{int(mask.sum())} row(s): {row_list(y.index, mask, limit)} (values {vals})"


def _numeric(y: pd.Series, family: str) -> np.ndarray:
    if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        sample = list(pd.unique(y)[:3])
        raise DataError(
            f"the response {y.name!r} must be numeric for the {family} family; "
            f"it has dtype {y.dtype} (values such as {sample})"
        )
    arr = y.to_numpy(dtype=float)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise DataError(f"the response {y.name!r} has non-finite values in {_bad_rows(y, bad)}")
    return arr


def _counts(y: pd.Series, what: str, family: str) -> np.ndarray:
    arr = _numeric(y, family)
    bad = (arr < 0) | (arr != np.round(arr))
    if bad.any():
        raise DataError(f"{what} {y.name!r} must be non-negative integers; not so in {_bad_rows(y, bad)}")
    return arr.astype(np.int64)


def _log_p(eta, link: str):
    """``log P(y = 1)`` on the logit or probit scale, stable in the tails."""
    return special.log_ndtr(eta) if link == "probit" else special.log_expit(eta)


@dataclass(frozen=True)
class Family:
    """Base class of response families."""

    name: str = "family"
    link: str = "identity"
    has_sigma: bool = False

    def prepare(self, y: pd.Series, other: pd.Series | None, kind: str = "plain") -> dict:
        """Check the response and return the arrays the likelihood needs."""
        raise NotImplementedError

    def prior_scales(self, data: dict) -> PriorScales:
        """Location and scales of the default priors."""
        return PriorScales(0.0, 2.5, 2.5, 2.5)

    def observe(self, eta, data: dict, sigma=None):
        """Add the observed variable ``obs`` with linear predictor ``eta`` to the current model."""
        raise NotImplementedError

    def inverse_link(self, eta):
        """The link's inverse: the mean of one trial given the linear predictor (numpy)."""
        raise NotImplementedError

    def mean(self, eta, data: dict):
        """Expected response given the linear predictor (binomial: trials x probability).

        Parameters
        ----------
        eta : ndarray, shape (..., N)
            Linear predictor, offsets included.
        data : dict
            The family's prepared arrays (``n`` for binomial), shape (N,).
        """
        return self.inverse_link(eta)

    def logpdf(self, y, eta, data: dict, sigma=None):
        """Pointwise log density (mass) of ``y`` given ``eta`` (numpy, elementwise).

        Parameters
        ----------
        y : ndarray, shape (N,)
            The prepared response (``data["y"]``).
        eta : ndarray, shape (..., N)
        data : dict
            The family's prepared arrays.
        sigma : ndarray, optional
            Residual SD for Gaussian, broadcastable against ``eta`` (e.g. ``sigma[..., None]``).
        """
        raise NotImplementedError

    def random(self, eta, data: dict, rng: np.random.Generator, sigma=None):
        """Random responses given ``eta``, one per element (numpy); arguments as :meth:`logpdf`."""
        raise NotImplementedError

    @property
    def ratio_name(self) -> str | None:
        """What ``exp(b)`` is on this family's link scale, if anything."""
        return None


@dataclass(frozen=True)
class Gaussian(Family):
    """Normal response with identity link and residual SD ``sigma``."""

    name: str = "gaussian"
    link: str = "identity"
    has_sigma: bool = True

    def prepare(self, y, other, kind="plain"):
        if other is not None:
            raise DataError("cbind()/trials() responses need family='binomial'")
        arr = _numeric(y, self.name)
        if np.std(arr) == 0:
            raise DataError(f"the response {y.name!r} is constant ({arr[0]!r}); nothing to model")
        return {"y": arr}

    def prior_scales(self, data):
        y = data["y"]
        s = float(np.std(y, ddof=1))
        return PriorScales(float(np.mean(y)), 2.5 * s, 2.5 * s, s, s)

    def observe(self, eta, data, sigma=None):
        return pm.Normal("obs", mu=eta, sigma=sigma, observed=data["y"])

    def inverse_link(self, eta):
        return np.asarray(eta, dtype=float)

    def logpdf(self, y, eta, data, sigma=None):
        z = (y - eta) / sigma
        return -0.5 * np.log(2.0 * np.pi) - np.log(sigma) - 0.5 * z**2

    def random(self, eta, data, rng, sigma=None):
        eta = np.asarray(eta, dtype=float)
        return eta + np.broadcast_to(sigma, eta.shape) * rng.standard_normal(eta.shape)


@dataclass(frozen=True)
class Bernoulli(Family):
    """Binary response; logit (default) or probit link."""

    name: str = "bernoulli"
    link: str = "logit"

    def __post_init__(self):
        if self.link not in ("logit", "probit"):
            raise argument_error("link", self.link, "'logit' or 'probit' for the bernoulli family")

    def prepare(self, y, other, kind="plain"):
        if other is not None:
            raise DataError("cbind()/trials() responses need family='binomial'")
        event = None
        if pd.api.types.is_bool_dtype(y):
            arr = y.to_numpy(dtype=float)
            event = "True"
        elif pd.api.types.is_numeric_dtype(y):
            arr = _numeric(y, self.name)
            bad = ~np.isin(arr, (0.0, 1.0))
            if bad.any():
                raise DataError(
                    f"a bernoulli response must be 0/1, booleans or two labels; {y.name!r} has other "
                    f"values in {_bad_rows(y, bad)}"
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

    def observe(self, eta, data, sigma=None):
        if self.link == "probit":
            return pm.Bernoulli("obs", p=pm.math.invprobit(eta), observed=data["y"])
        return pm.Bernoulli("obs", logit_p=eta, observed=data["y"])

    def inverse_link(self, eta):
        return special.ndtr(eta) if self.link == "probit" else special.expit(eta)

    def logpdf(self, y, eta, data, sigma=None):
        return y * _log_p(eta, self.link) + (1 - y) * _log_p(-np.asarray(eta), self.link)

    def random(self, eta, data, rng, sigma=None):
        p = self.inverse_link(eta)
        return (rng.random(np.shape(p)) < p).astype(np.int64)

    @property
    def ratio_name(self):
        return "odds ratio" if self.link == "logit" else None


@dataclass(frozen=True)
class Binomial(Family):
    """Successes out of trials, logit link."""

    name: str = "binomial"
    link: str = "logit"

    def prepare(self, y, other, kind="plain"):
        if other is None:
            raise DataError(
                "a binomial response needs its trials: write cbind(successes, failures) ~ ... (lme4) "
                "or successes | trials(n) ~ ... (brms)"
            )
        succ = _counts(y, "successes", self.name)
        if kind == "cbind":
            fail = _counts(other, "failures", self.name)
            n = succ + fail
        else:
            n = _counts(other, "trials", self.name)
        zero = n == 0
        if zero.any():
            raise DataError(f"zero trials in {_bad_rows(pd.Series(n, index=y.index, name='trials'), zero)}")
        over = succ > n
        if over.any():
            raise DataError(f"successes exceed trials in {int(over.sum())} row(s): {row_list(y.index, over)}")
        return {"y": succ, "n": n}

    def observe(self, eta, data, sigma=None):
        return pm.Binomial("obs", n=data["n"], logit_p=eta, observed=data["y"])

    def inverse_link(self, eta):
        return special.expit(eta)

    def mean(self, eta, data):
        return data["n"] * special.expit(eta)

    def logpdf(self, y, eta, data, sigma=None):
        n = data["n"]
        log_choose = special.gammaln(n + 1) - special.gammaln(y + 1) - special.gammaln(n - y + 1)
        return log_choose + y * special.log_expit(eta) + (n - y) * special.log_expit(-np.asarray(eta))

    def random(self, eta, data, rng, sigma=None):
        p = special.expit(eta)
        return rng.binomial(np.broadcast_to(data["n"], np.shape(p)), p)

    @property
    def ratio_name(self):
        return "odds ratio"


@dataclass(frozen=True)
class Poisson(Family):
    """Counts with log link; exposure through ``offset(np.log(exposure))``."""

    name: str = "poisson"
    link: str = "log"

    def prepare(self, y, other, kind="plain"):
        if other is not None:
            raise DataError("cbind()/trials() responses need family='binomial'")
        return {"y": _counts(y, "counts", self.name)}

    def prior_scales(self, data):
        rate = max(float(np.mean(data["y"])), 0.1)
        return PriorScales(float(np.log(rate)), 2.5, 2.5, 2.5)

    def observe(self, eta, data, sigma=None):
        return pm.Poisson("obs", mu=pm.math.exp(eta), observed=data["y"])

    def inverse_link(self, eta):
        return np.exp(eta)

    def logpdf(self, y, eta, data, sigma=None):
        return y * np.asarray(eta) - np.exp(eta) - special.gammaln(y + 1)

    def random(self, eta, data, rng, sigma=None):
        return rng.poisson(np.exp(eta))

    @property
    def ratio_name(self):
        return "rate ratio"


FAMILIES = {
    "gaussian": Gaussian,
    "normal": Gaussian,
    "bernoulli": Bernoulli,
    "binomial": Binomial,
    "poisson": Poisson,
}


def get_family(family: str | Family, link: str | None = None) -> Family:
    """Look up a family by name (``"gaussian"``, ``"bernoulli"``, ``"binomial"``, ``"poisson"``)."""
    if isinstance(family, Family):
        return family
    if isinstance(family, str) and family.lower() in FAMILIES:
        cls = FAMILIES[family.lower()]
        if link is None:
            return cls()
        if link != cls.link and cls is not Bernoulli:
            raise argument_error("link", link, f"{cls.link!r} for the {family} family")
        return cls(link=link)
    raise argument_error("family", family, f"one of {sorted(FAMILIES)}")
