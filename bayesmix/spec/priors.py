"""Priors: data-scaled defaults and user overrides.

Default rule for the Gaussian family (the logit, probit and log links use
the link-scale numbers documented in :mod:`bayesmix.families`), in the spirit of rstanarm's autoscaling and
brms's defaults, with ``s_y`` the sample SD of the response and ``s_x`` the
sample SD of a population-level column:

=============  =====================================================
class          default
=============  =====================================================
``Intercept``  ``normal(mean(y), 2.5 * s_y)``, on the intercept of the
               design with centred predictors (as brms does)
``b``          ``normal(0, 2.5 * s_y / s_x)`` per population slope
``sd``         ``half_student_t(3, s_y)`` per group-level SD
``sigma``      ``half_student_t(3, s_y)``
``cor``        ``lkj(1)`` (uniform over correlation matrices)
=============  =====================================================

The families' extra parameters have their own classes, with brms's defaults (see
:mod:`bayesmix.spec.families`): ``nu`` (Student-t, ``gamma(2, 0.1)``), ``shape``
(negative binomial and gamma, ``gamma(0.01, 0.01)``), ``phi`` (beta, ``gamma(0.01, 0.01)``);
for ordinal models ``Intercept`` is the class of the cutpoints (``student_t(3, 0, 2.5)``,
one prior for all, on the cutpoints of the centred design as brms does).

Overrides are a dict whose keys name a class (``"b"``, ``"sd"``, ``"cor"``,
``"sigma"``, ``"Intercept"``, ``"nu"``, ``"shape"``, ``"phi"``) or one parameter in brms's naming
(``"b_Days"``, ``"sd_Subject"``, ``"sd_Subject__Days"``, ``"cor_Subject"``)
and whose values are :class:`Prior` objects or strings such as
``"student_t(3, 0, 10)"``.  The most specific key wins.  For SDs, sigma, nu, shape and
phi a ``normal``, ``student_t`` or ``cauchy`` centred on 0 means its half version,
as in brms.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayesmix.core import names
from bayesmix.errors import PriorError

__all__ = ["Prior", "PriorSet", "parse_prior", "resolve_priors"]

#: distribution name -> (parameter names, support)
DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "normal": (("mu", "sigma"), "real"),
    "student_t": (("nu", "mu", "sigma"), "real"),
    "cauchy": (("alpha", "beta"), "real"),
    "half_normal": (("sigma",), "positive"),
    "half_student_t": (("nu", "sigma"), "positive"),
    "half_cauchy": (("beta",), "positive"),
    "exponential": (("lam",), "positive"),
    "gamma": (("alpha", "beta"), "positive"),
    "flat": ((), "real"),
    "lkj": (("eta",), "cor"),
}

_ALIASES = {
    "halfnormal": "half_normal",
    "studentt": "student_t",
    "student": "student_t",
    "half_t": "half_student_t",
    "halfcauchy": "half_cauchy",
    "exp": "exponential",
    "lkj_corr_cholesky": "lkj",
    "lkj_corr": "lkj",
    "t": "student_t",
}

CLASSES = ("Intercept", "b", "sd", "cor", "sigma", "nu", "shape", "phi")
#: classes of positive parameters (a real prior centred on 0 means its half version)
POSITIVE_CLASSES = ("sd", "sigma", "nu", "shape", "phi")


@dataclass(frozen=True)
class Prior:
    """A prior distribution by name and parameters.

    Parameters
    ----------
    dist : str
        One of ``normal``, ``student_t``, ``cauchy``, ``half_normal``,
        ``half_student_t``, ``half_cauchy``, ``exponential``, ``gamma``,
        ``flat`` (improper; prior predictive simulation is then impossible)
        and ``lkj`` (correlations only).
    params : tuple of float
        In the order of the distribution's usual parameters, e.g.
        ``student_t(nu, mu, sigma)``.
    """

    dist: str
    params: tuple[float, ...] = ()

    def __post_init__(self):
        dist = _ALIASES.get(self.dist.lower(), self.dist.lower())
        object.__setattr__(self, "dist", dist)
        if dist not in DISTRIBUTIONS:
            raise PriorError(f"unknown prior distribution {self.dist!r}; known: {sorted(DISTRIBUTIONS)}")
        names, _ = DISTRIBUTIONS[dist]
        params = tuple(float(p) for p in self.params)
        if len(params) != len(names):
            raise PriorError(
                f"{dist} takes {len(names)} parameter(s) ({', '.join(names)}), got {len(params)}"
            )
        location = {"mu"} | ({"alpha"} if dist == "cauchy" else set())
        for n, v in zip(names, params, strict=True):
            if not math.isfinite(v):
                raise PriorError(f"{dist}: parameter {n} must be finite, got {v}")
            if n not in location and v <= 0:
                raise PriorError(f"{dist}: parameter {n} must be positive, got {v}")
        object.__setattr__(self, "params", params)

    @property
    def support(self) -> str:
        """``"real"``, ``"positive"`` or ``"cor"``."""
        return DISTRIBUTIONS[self.dist][1]

    def __str__(self) -> str:
        return f"{self.dist}({', '.join(f'{p:.4g}' for p in self.params)})"

    def as_positive(self) -> Prior:
        """The half version of a real prior centred on 0, for SDs and sigma."""
        if self.support == "positive":
            return self
        if self.dist == "flat":
            return self
        if self.dist in ("normal", "student_t", "cauchy"):
            loc = self.params[-2] if self.dist != "cauchy" else self.params[0]
            if loc != 0:
                raise PriorError(f"a prior on a standard deviation must be centred on 0, got {self}")
            if self.dist == "normal":
                return Prior("half_normal", (self.params[1],))
            if self.dist == "student_t":
                return Prior("half_student_t", (self.params[0], self.params[2]))
            return Prior("half_cauchy", (self.params[1],))
        raise PriorError(f"{self} cannot be a prior on a standard deviation")


_PRIOR_RE = re.compile(r"^\s*([A-Za-z_]+)\s*\((.*)\)\s*$")


def parse_prior(value: str | Prior) -> Prior:
    """Parse ``"student_t(3, 0, 10)"`` (brms/Stan syntax) into a :class:`Prior`."""
    if isinstance(value, Prior):
        return value
    if not isinstance(value, str):
        raise PriorError(f"a prior must be a string such as 'normal(0, 10)' or a Prior, got {value!r}")
    text = value.strip()
    if text.lower() in ("flat", ""):
        return Prior("flat")
    m = _PRIOR_RE.match(text)
    if m is None:
        raise PriorError(f"cannot read prior {value!r}; write it like 'normal(0, 10)'")
    args = [a.strip() for a in m.group(2).split(",") if a.strip()]
    try:
        params = tuple(float(a) for a in args)
    except ValueError:
        raise PriorError(f"prior {value!r}: parameters must be numbers") from None
    return Prior(m.group(1), params)


@dataclass(frozen=True)
class PriorEntry:
    """One parameter's prior with where it came from."""

    cls: str
    param: str
    prior: Prior
    source: str  # "default" or the user's key


class PriorSet(Mapping):
    """The priors in force, one per parameter, in brms's naming.

    Behaves as a read-only mapping from parameter name to :class:`Prior`;
    :meth:`to_frame` gives a table with the class and where each came from.
    """

    def __init__(self, entries: list[PriorEntry]):
        self._entries = {e.param: e for e in entries}

    def __getitem__(self, key: str) -> Prior:
        return self._entries[key].prior

    def __iter__(self):
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, key: str) -> PriorEntry:
        """The full entry (class, prior, source) of one parameter."""
        return self._entries[key]

    def to_frame(self) -> pd.DataFrame:
        """The priors as a DataFrame with columns class, prior and source."""
        rows = [(e.param, e.cls, str(e.prior), e.source) for e in self._entries.values()]
        return pd.DataFrame(rows, columns=["parameter", "class", "prior", "source"]).set_index("parameter")

    def __repr__(self) -> str:
        return "Priors in force:\n" + self.to_frame().to_string()

    @property
    def improper(self) -> list[str]:
        """Parameters with an improper (flat) prior."""
        return [k for k, e in self._entries.items() if e.prior.dist == "flat"]


def _norm_key(key: str) -> str:
    return key.strip()


def resolve_priors(
    params: list[tuple[str, str, tuple[str, ...]]],
    defaults: dict[str, Prior],
    overrides: Mapping[str, str | Prior] | None,
) -> PriorSet:
    """Combine defaults with user overrides.

    Parameters
    ----------
    params : list of (class, parameter name, keys from most to least specific)
        Every parameter of the model.
    defaults : dict
        Default prior per parameter name.
    overrides : mapping, optional
        User's priors keyed by class or parameter name.
    """
    overrides = {_norm_key(k): parse_prior(v) for k, v in (overrides or {}).items()}
    used: set[str] = set()
    entries = []
    for cls, name, keys in params:
        prior, source = defaults[name], "default"
        for key in keys:
            if key in overrides:
                prior, source = overrides[key], key
                used.add(key)
                break
        if cls in POSITIVE_CLASSES:
            try:
                prior = prior.as_positive()
            except PriorError as exc:
                raise PriorError(f"{name}: {exc}") from None
        elif cls == "cor":
            if prior.dist != "lkj":
                raise PriorError(f"{name}: correlations take an lkj(eta) prior, got {prior}")
        elif prior.support != "real":
            raise PriorError(
                f"{name}: a {prior.dist} prior needs a positive parameter; {name} is real-valued"
            )
        entries.append(PriorEntry(cls, name, prior, source))
    unused = set(overrides) - used
    if unused:
        valid = sorted({k for _, _, keys in params for k in keys})
        msgs = []
        for key in sorted(unused):
            close = difflib.get_close_matches(key, valid, n=3, cutoff=0.5)
            msgs.append(f"{key!r}" + (f" (did you mean {', '.join(map(repr, close))}?)" if close else ""))
        raise PriorError(f"prior key(s) {', '.join(msgs)} name nothing in this model; valid keys: {valid}")
    return PriorSet(entries)


def model_parameters(design) -> list[tuple[str, str, tuple[str, ...]]]:
    """Every prior-carrying parameter of ``design`` as (class, name, keys), keys most specific first."""
    params: list[tuple[str, str, tuple[str, ...]]] = []
    for term in design.terms:
        if term == "Intercept":
            params.append(("Intercept", "Intercept", ("Intercept",)))
        else:
            params.append(("b", names.b_label(term), (names.b_label(term), "b")))
    for f in design.factors:
        for c in f.coefs:
            label = names.sd_label(f.name, c)
            params.append(("sd", label, (label, names.sd_class_label(f.name), "sd")))
        if f.cor_pairs():
            label = names.cor_class_label(f.name)
            params.append(("cor", label, (label, "cor")))
    return params


def default_priors(
    design, family, data: dict, overrides: Mapping[str, str | Prior] | None = None
) -> PriorSet:
    """The data-scaled default priors of the module docstring, with ``overrides`` applied.

    Parameters
    ----------
    design : Design
        The model's design.
    family : Family
        Supplies the response's location and scale on the link scale.
    data : dict
        The family's prepared response arrays.
    overrides : mapping, optional
        User priors (see the module docstring).
    """
    sc = family.prior_scales(data)
    params = model_parameters(design)
    defaults: dict[str, Prior] = {}
    X = design.X
    for cls, name, _ in params:
        if cls == "Intercept":
            defaults[name] = Prior("normal", (sc.intercept_loc, sc.intercept_scale))
        elif cls == "b":
            j = design.terms.index(name[2:])
            sx = float(np.std(X[:, j], ddof=1)) if X.shape[0] > 1 else 0.0
            defaults[name] = Prior("normal", (0.0, sc.slope_scale / (sx if sx > 0 else 1.0)))
        elif cls == "sd":
            defaults[name] = Prior("half_student_t", (3.0, sc.sd_scale))
        elif cls == "cor":
            defaults[name] = Prior("lkj", (1.0,))
    for name, prior in family.aux_priors(data).items():
        params.append((name, name, (name,)))
        defaults[name] = prior
    return resolve_priors(params, defaults, overrides)
