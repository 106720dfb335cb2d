"""True parameter values of a model, as a user writes them and as arrays the simulator reads.

Written nested::

    {"b": {"Intercept": 3, "x": 0.75},
     "sd": {"cluster": {"Intercept": 0.5, "x": 0.2}},    # or {"cluster": 0.5} for one coefficient
     "cor": {"cluster": 0.25},                            # or a k x k matrix; default 0
     "sigma": 1.0}                                        # the family's parameters

The family's parameters besides the linear predictor go at the top level under brms's
names: ``sigma`` (Gaussian, Student-t, lognormal), ``nu`` (Student-t), ``shape``
(negative binomial, gamma), ``phi`` (beta), ``Intercept`` (the cutpoints of an ordinal
model: a list of increasing numbers, ``K - 1`` for ``K`` categories; ``"Intercept[1]"`` ...
in the flat form).

or flat, in brms's labels (those of ``fit.summary()``): ``{"b_Intercept": 3, "b_x": 0.75,
"sd_cluster__Intercept": 0.5, "cor_cluster__Intercept__x": 0.25, "sigma": 1}``.  Every
population effect and SD must be given (a missing one is an error naming it); missing
correlations are 0.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from bayesmix.core import names
from bayesmix.core.linalg import correlation_matrix
from bayesmix.errors import ArgumentError, argument_error
from bayesmix.spec.design import Design

__all__ = ["TrueParameters", "true_parameters", "from_draws"]


@dataclass(frozen=True)
class TrueParameters:
    """Parameter values aligned with a design.

    Attributes
    ----------
    b : ndarray, shape (p,)
        Population effects, in ``design.terms`` order.
    sd : dict
        Factor -> SDs of its varying coefficients, shape (k,).
    cor : dict
        Factor -> correlation matrix, shape (k, k).
    aux : dict
        The family's parameters by name (``sigma``, ``nu``, ``shape``, ``phi`` as numbers,
        the cutpoints ``Intercept`` as an increasing array).
    """

    b: np.ndarray
    sd: dict
    cor: dict
    aux: dict = field(default_factory=dict)

    @property
    def sigma(self) -> float | None:
        """The residual SD, if the family has one."""
        return self.aux.get(names.SIGMA)

    def labels(self, design: Design) -> dict[str, float]:
        """The values under the brms labels of ``fit.summary()``'s index."""
        out = {names.b_label(t): float(v) for t, v in zip(design.terms, self.b, strict=True)}
        for f in design.factors:
            for i, c in enumerate(f.coefs):
                out[names.sd_label(f.name, c)] = float(self.sd[f.name][i])
            for i, j in f.cor_pairs():
                out[names.cor_label(f.name, f.coefs[i], f.coefs[j])] = float(self.cor[f.name][i, j])
        for name, v in self.aux.items():
            if name == names.CUTPOINTS:
                out |= {f"{name}[{k + 1}]": float(c) for k, c in enumerate(np.atleast_1d(v))}
            else:
                out[name] = float(v)
        return out


def _flat_to_nested(params: Mapping, design: Design) -> dict:
    """brms labels -> the nested form."""
    nested: dict = {"b": {}, "sd": {}, "cor": {}}
    by_label = {names.b_label(t): ("b", t, None) for t in design.terms}
    for f in design.factors:
        for c in f.coefs:
            by_label[names.sd_label(f.name, c)] = ("sd", f.name, c)
        for i, j in f.cor_pairs():
            by_label[names.cor_label(f.name, f.coefs[i], f.coefs[j])] = (
                "cor",
                f.name,
                (f.coefs[i], f.coefs[j]),
            )
    cuts: dict[int, object] = {}
    for key, value in params.items():
        if key in AUX_KEYS:
            nested[key] = value
            continue
        m = re.fullmatch(r"Intercept\[(\d+)\]", str(key))
        if m:
            cuts[int(m.group(1))] = value
            continue
        if key not in by_label:
            raise argument_error(
                "params", key, f"a parameter of this model: {sorted(by_label) + list(AUX_KEYS)}"
            )
        kind, a, b = by_label[key]
        if kind == "b":
            nested["b"][a] = value
        elif kind == "sd":
            nested["sd"].setdefault(a, {})[b] = value
        else:
            nested["cor"].setdefault(a, {})[b] = value
    if cuts:
        if sorted(cuts) != list(range(1, len(cuts) + 1)):
            raise ArgumentError(f"params gives cutpoints {sorted(cuts)}; give Intercept[1] to Intercept[K-1]")
        nested[names.CUTPOINTS] = [cuts[k] for k in sorted(cuts)]
    return nested


#: top-level keys of the family's parameters
AUX_KEYS = (*names.AUX_SCALARS, names.CUTPOINTS)


def _number(value, what: str, positive: bool = False) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise argument_error("params", f"{what}={value!r}", "a number") from None
    if not np.isfinite(x) or (positive and x < 0):
        raise argument_error(
            "params", f"{what}={value!r}", "a finite non-negative number" if positive else "finite"
        )
    return x


def true_parameters(
    params: Mapping, design: Design, family, response_data: dict | None = None
) -> TrueParameters:
    """Check ``params`` against the design and align them (see the module docstring).

    ``response_data`` (the model's prepared response) gives an ordinal model's number of
    categories; the cutpoints given set it when the model's data do not.
    """
    if isinstance(params, TrueParameters):
        return params
    if not isinstance(params, Mapping):
        raise argument_error("params", type(params).__name__, "a dict of parameter values")
    if not set(params) <= {"b", "sd", "cor", *AUX_KEYS}:
        params = _flat_to_nested(params, design)
    b_given = dict(params.get("b") or {})
    missing = [t for t in design.terms if t not in b_given]
    unknown = [t for t in b_given if t not in design.terms]
    if missing or unknown:
        raise ArgumentError(
            f"params['b'] must give every population effect {list(design.terms)}"
            + (f"; missing {missing}" if missing else "")
            + (f"; not in the model {unknown}" if unknown else "")
        )
    b = np.array([_number(b_given[t], f"b[{t!r}]") for t in design.terms])
    sd, cor = {}, {}
    sds = dict(params.get("sd") or {})
    cors = dict(params.get("cor") or {})
    for extra in set(sds) | set(cors):
        if extra not in {f.name for f in design.factors}:
            raise argument_error("params", extra, f"a grouping factor: {[f.name for f in design.factors]}")
    for f in design.factors:
        k = len(f.coefs)
        given = sds.get(f.name)
        if given is None:
            raise ArgumentError(
                f"params['sd'] has no SDs for factor {f.name!r} (coefficients {list(f.coefs)})"
            )
        if not isinstance(given, Mapping):
            if k != 1:
                raise ArgumentError(f"params['sd'][{f.name!r}] needs one SD per coefficient: {list(f.coefs)}")
            given = {f.coefs[0]: given}
        miss = [c for c in f.coefs if c not in given]
        if miss:
            raise ArgumentError(f"params['sd'][{f.name!r}] misses {miss}")
        sd[f.name] = np.array([_number(given[c], f"sd[{f.name!r}][{c!r}]", positive=True) for c in f.coefs])
        R = np.eye(k)
        spec = cors.get(f.name)
        allowed = set(f.cor_pairs())
        if spec is not None:
            if isinstance(spec, Mapping):
                pairs = {}
                for key, v in spec.items():
                    pair = tuple(key) if isinstance(key, tuple) else tuple(str(key).split("__"))
                    if len(pair) != 2 or not set(pair) <= set(f.coefs):
                        raise argument_error(f"params['cor'][{f.name!r}]", key, f"a pair of {list(f.coefs)}")
                    i, j = sorted(f.coefs.index(c) for c in pair)
                    pairs[(i, j)] = v
            elif np.ndim(spec) == 0:
                pairs = dict.fromkeys(allowed, spec)
            else:
                M = np.asarray(spec, dtype=float)
                if M.shape != (k, k):
                    raise ArgumentError(f"params['cor'][{f.name!r}] must be {k} x {k} ({list(f.coefs)})")
                pairs = {(i, j): M[i, j] for i in range(k) for j in range(i + 1, k) if M[i, j] != 0}
            for (i, j), v in pairs.items():
                if (i, j) not in allowed:
                    raise ArgumentError(
                        f"factor {f.name!r} has no correlation between {f.coefs[i]!r} and {f.coefs[j]!r} "
                        "(uncorrelated terms, e.g. ||)"
                    )
                R[i, j] = R[j, i] = _number(v, f"cor[{f.name!r}]")
            if np.linalg.eigvalsh(R).min() <= 0:
                raise ArgumentError(
                    f"params['cor'][{f.name!r}] is not a valid correlation matrix (not positive definite)"
                )
        cor[f.name] = R
    return TrueParameters(b, sd, cor, _aux_values(params, family, response_data))


def _aux_values(params: Mapping, family, response_data: dict | None) -> dict:
    """The family's parameters from ``params``: each one it has, none it lacks."""
    wanted = {a.name: a for a in family.aux(response_data or {"scores": np.arange(3)})}
    for key in AUX_KEYS:
        if key in params and key not in wanted:
            raise ArgumentError(
                f"params gives {key!r}, but a {family.name} model has no such parameter"
                + (f" (it has {sorted(wanted)})" if wanted else "")
            )
    out = {}
    for name, a in wanted.items():
        if name not in params:
            raise ArgumentError(f"params needs {name!r} ({a.what}) for a {family.name} model")
        if a.ordered:
            c = np.atleast_1d(np.asarray(params[name], dtype=float))
            if c.ndim != 1 or c.size < 1 or not np.all(np.isfinite(c)) or np.any(np.diff(c) <= 0):
                raise argument_error(
                    "params", f"Intercept={params[name]!r}", "an increasing list of finite cutpoints"
                )
            out[name] = c
        else:
            out[name] = _number(params[name], name, positive=True)
            if out[name] <= 0:
                raise argument_error("params", f"{name}={params[name]!r}", "a positive number")
    return out


def from_draws(post, design: Design, chain: int, draw: int) -> TrueParameters:
    """One posterior (or prior) draw as parameter values."""
    pick = {"chain": chain, "draw": draw}
    b = post[names.B].isel(pick).transpose(names.TERM).values if names.B in post else np.zeros(0)
    sd, cor = {}, {}
    for f in design.factors:
        sd[f.name] = post[names.sd_var(f.name)].isel(pick).values
        c = post[names.cor_var(f.name)].isel(pick).values if f.cor_pairs() else None
        cor[f.name] = correlation_matrix(c, f.cor_pairs(), len(f.coefs))
    aux = {v: float(post[v].isel(pick).values) for v in names.AUX_SCALARS if v in post}
    if names.CUTPOINTS in post:
        aux[names.CUTPOINTS] = np.asarray(post[names.CUTPOINTS].isel(pick).values, dtype=float)
    return TrueParameters(np.asarray(b, float), sd, cor, aux)
