"""What every response family provides, and the checks of a response they share.

A family has a PyMC side (:meth:`Family.observe`, used by the graph) and a numpy side
used after the fit and by the simulator: :meth:`Family.mean`, :meth:`Family.logpdf`,
:meth:`Family.random`, :meth:`Family.variance`, all elementwise over arrays of linear
predictors such as ``(chain, draw, obs)``.  Parameters besides the linear predictor
(``sigma``, ``nu``, ``shape``, ``phi``, the cutpoints ``Intercept``) are the family's
:class:`Aux` parameters; their values reach the numpy side as a dict of arrays that
broadcast against the linear predictor: a scalar parameter as ``(chain, draw, 1)`` (or a
plain number), the cutpoints as ``(chain, draw, 1, K - 1)`` (or ``(K - 1,)``).

Weights (``Model(..., weights=)``) reach the family in its prepared data as ``weights``
with ``weights_kind`` ``"frequency"`` (each row's log density counts ``w`` times, as brms's
``weights()``) or ``"analytic"`` (Gaussian only: the row's residual variance is
``sigma^2 / w``, as R's ``lm(weights=)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import pymc as pm
from scipy import special

from bayesmix.errors import DataError, argument_error, row_list
from bayesmix.spec.priors import Prior

__all__ = ["Family", "Aux", "PriorScales", "aux_draws"]


@dataclass(frozen=True)
class PriorScales:
    """Data-derived numbers the default priors of the linear predictor are built from."""

    intercept_loc: float
    intercept_scale: float
    slope_scale: float  # divided by sd(x) per column
    sd_scale: float


@dataclass(frozen=True)
class Aux:
    """A family parameter besides the linear predictor.

    Attributes
    ----------
    name : str
        Posterior variable, prior key and prior class, in brms's names (``sigma``, ``nu``,
        ``shape``, ``phi``; ``Intercept`` for the cutpoints of ordinal families).
    what : str
        What it is, for the report.
    size : int
        1 for a scalar; the number of cutpoints for ``Intercept``.
    """

    name: str
    what: str
    size: int = 1

    @property
    def ordered(self) -> bool:
        """Cutpoints: a vector of increasing values."""
        return self.name == "Intercept"


def bad_rows(y: pd.Series, mask: np.ndarray, limit: int = 5) -> str:
    """``"3 row(s): 4, 9, 12 (values [...])"`` for an error message."""
    vals = list(y[mask].iloc[:limit])
    return f"{int(mask.sum())} row(s): {row_list(y.index, mask, limit)} (values {vals})"


def numeric(y: pd.Series, family: str) -> np.ndarray:
    """The response as finite floats, or a :class:`DataError` naming the rows."""
    if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        sample = list(pd.unique(y)[:3])
        raise DataError(
            f"the response {y.name!r} must be numeric for the {family} family; "
            f"it has dtype {y.dtype} (values such as {sample})"
        )
    arr = y.to_numpy(dtype=float)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise DataError(f"the response {y.name!r} has non-finite values in {bad_rows(y, bad)}")
    return arr


def counts(y: pd.Series, what: str, family: str) -> np.ndarray:
    """Non-negative integers, or a :class:`DataError` naming the rows."""
    arr = numeric(y, family)
    bad = (arr < 0) | (arr != np.round(arr))
    if bad.any():
        raise DataError(f"{what} {y.name!r} must be non-negative integers; not so in {bad_rows(y, bad)}")
    return arr.astype(np.int64)


def positive(y: pd.Series, family: str) -> np.ndarray:
    """Values > 0, or a :class:`DataError` naming the rows."""
    arr = numeric(y, family)
    bad = arr <= 0
    if bad.any():
        raise DataError(
            f"the {family} family needs a positive response; {y.name!r} is <= 0 in {bad_rows(y, bad)}"
        )
    return arr


def no_trials(other) -> None:
    """Refuse ``cbind()``/``trials()`` for families other than the binomial."""
    if other is not None:
        raise DataError("cbind()/trials() responses need family='binomial'")


def log_p(eta, link: str):
    """``log P(y = 1)`` on the logit or probit scale, stable in the tails."""
    return special.log_ndtr(eta) if link == "probit" else special.log_expit(eta)


def value(aux, name: str):
    """An aux parameter's values as an array (shape as given)."""
    if aux is None or name not in aux:
        raise ValueError(f"this family needs the value of {name!r}")
    return np.asarray(aux[name], dtype=float)


def aux_draws(post, family, data: dict, row_axes: int = 1) -> dict[str, np.ndarray]:
    """The aux parameters' draws from a posterior (or prior) Dataset, shaped for the numpy side.

    Scalars ``(chain, draw, 1)`` and cutpoints ``(chain, draw, 1, K - 1)`` for linear
    predictors ``(chain, draw, obs)``; ``row_axes`` sets the number of 1-axes (0 for
    per-draw quantities such as the ICC, 2 for ``(chain, draw, m, obs)``).
    """
    out = {}
    for a in family.aux(data):
        v = post[a.name].transpose("chain", "draw", ...).values.astype(float)
        C, D = v.shape[:2]
        ones = (1,) * row_axes
        out[a.name] = v.reshape(C, D, *ones, a.size) if a.ordered else v.reshape(C, D, *ones)
    return out


@dataclass(frozen=True)
class Family:
    """Base class of response families (see the module docstring for the conventions)."""

    name: str = "family"
    link: str = "identity"
    #: links this family accepts, the default first
    links: ClassVar[tuple[str, ...]] = ("identity",)
    #: whether an observation-level parameter (a residual SD, shape, precision) absorbs
    #: row-level variation, so that a factor with a level per row is not identified
    dispersed: ClassVar[bool] = False
    #: whether the family has a residual SD ``sigma`` on the linear predictor's scale
    has_sigma: ClassVar[bool] = False
    #: extra arguments of the observed variable's constructor (not of its ``.dist``)
    observed_options: ClassVar[dict] = {}

    def __post_init__(self):
        if self.link not in self.links:
            raise argument_error("link", self.link, f"one of {list(self.links)} for the {self.name} family")

    # ---- data
    def prepare(self, y: pd.Series, other: pd.Series | None, kind: str = "plain") -> dict:
        """Check the response and return the arrays the likelihood needs."""
        raise NotImplementedError

    def observed(self, data: dict) -> np.ndarray:
        """The response on the data's own scale (ordinal families: the category scores)."""
        return np.asarray(data["y"])

    def to_column(self, y: np.ndarray, data: dict):
        """Simulated responses as the data column holds them (ordinal: labels if the data had labels)."""
        return y

    def placeholder(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """A valid stand-in response of ``n`` rows (a design to simulate on has no response yet)."""
        return rng.standard_normal(n)

    # ---- priors
    def prior_scales(self, data: dict) -> PriorScales:
        """Location and scales of the default priors of the linear predictor's parameters."""
        return PriorScales(0.0, 2.5, 2.5, 2.5)

    def aux(self, data: dict) -> tuple[Aux, ...]:
        """The family's parameters besides the linear predictor (none by default)."""
        return ()

    def aux_priors(self, data: dict) -> dict[str, Prior]:
        """Default prior of each :meth:`aux` parameter."""
        return {}

    @property
    def has_intercept(self) -> bool:
        """Whether the linear predictor has an intercept (ordinal families use cutpoints instead)."""
        return True

    # ---- PyMC side
    def distribution(self, eta, data: dict, aux: dict) -> tuple[type, dict]:
        """The PyMC distribution of the response given ``eta``: its class and arguments."""
        raise NotImplementedError

    def observe(self, eta, data: dict, aux: dict):
        """Add the response's likelihood, named ``obs``, to the current model.

        Parameters
        ----------
        eta : TensorVariable
            Linear predictor (offsets included).
        data : dict
            Prepared arrays (as data slots where numeric).
        aux : dict
            The :meth:`aux` parameters' random variables by name.

        Frequency weights multiply each row's log density (a ``Potential``); otherwise
        the response is an observed variable.
        """
        cls, kwargs = self.distribution(eta, data, aux)
        w = data.get("weights")
        if w is not None and data.get("weights_kind") != "analytic":
            return pm.Potential("obs", pm.math.sum(w * pm.logp(cls.dist(**kwargs), data["y"])))
        return cls("obs", **kwargs, **self.observed_options, observed=data["y"])

    # ---- numpy side
    def inverse_link(self, eta):
        """The link's inverse (numpy)."""
        raise NotImplementedError

    def mean(self, eta, data: dict, aux: dict | None = None):
        """Expected response given the linear predictor ``eta`` (..., N)."""
        return self.inverse_link(eta)

    def density(self, y, eta, data: dict, aux: dict | None = None):
        """Pointwise log density (mass) of one row, weights aside."""
        raise NotImplementedError

    def logpdf(self, y, eta, data: dict, aux: dict | None = None):
        """Pointwise log density (mass) of ``y`` given ``eta`` (numpy, elementwise).

        Parameters
        ----------
        y : ndarray, shape (N,)
            The prepared response (``data["y"]``).
        eta : ndarray, shape (..., N)
            Linear predictor, offsets included.
        data : dict
            The family's prepared arrays (``n`` for binomial, ``weights``).
        aux : dict, optional
            Values of the :meth:`aux` parameters (module docstring for the shapes).

        Frequency weights multiply the log density: a row of weight 2 counts as two rows.
        """
        out = self.density(y, eta, data, aux)
        w = data.get("weights")
        if w is not None and data.get("weights_kind") != "analytic":
            out = out * w
        return out

    def random(self, eta, data: dict, rng: np.random.Generator, aux: dict | None = None):
        """Random responses given ``eta``, one per element (numpy); arguments as :meth:`logpdf`."""
        raise NotImplementedError

    def variance(self, eta, data: dict, aux: dict | None = None):
        """Variance of the response given ``eta`` (the residual variance of Bayesian R^2)."""
        raise NotImplementedError

    def latent_residual(self, data: dict, aux: dict | None = None) -> tuple[object, str]:
        """Residual variance on the link scale for the ICC, and how it was computed."""
        raise NotImplementedError

    @property
    def ratio_name(self) -> str | None:
        """What ``exp(b)`` is on this family's link scale, if anything."""
        return None

    def describe(self, data: dict) -> str:
        """The report's family line: name, link and what the extra parameters mean.

        ``sigma`` is left out (the report's table names it); e.g. ``negbinomial (link: log;
        shape: variance mu + mu^2/shape)``, ``cumulative (link: logit; 4 cutpoints)``.
        """
        extra = [a.what if a.ordered else f"{a.name}: {a.what}" for a in self.aux(data) if a.name != "sigma"]
        return f"{self.name} (link: {self.link}" + (f"; {'; '.join(extra)})" if extra else ")")
