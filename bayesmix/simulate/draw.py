"""Draw responses from a model's design given parameter values.

One implementation for every use (``Model.simulate``, ``Fit.simulate``, recovery, SBC
and power studies): group effects ``u_j ~ N(0, diag(sd) R diag(sd))`` per factor, the
linear predictor from :func:`bayesmix.core.predictor.linear_predictor` (the same code
predictions use), and the response from the family's numpy random generation
(:meth:`bayesmix.spec.families.Family.random`, tested against PyMC's distributions).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from bayesmix.core import names
from bayesmix.core.predictor import linear_predictor
from bayesmix.errors import ArgumentError
from bayesmix.simulate.params import TrueParameters
from bayesmix.spec.design import Design

__all__ = [
    "draw_effects",
    "draw_response",
    "response_columns",
    "fill_response",
    "with_placeholder",
    "simulate_frames",
]


def draw_effects(design: Design, tp: TrueParameters, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Group effects of every factor, ``(J, k)``, from their distribution."""
    out = {}
    for f in design.factors:
        L = np.linalg.cholesky(tp.cor[f.name])
        z = rng.standard_normal((f.n_levels, len(f.coefs)))
        out[f.name] = (z @ L.T) * tp.sd[f.name]
    return out


def draw_response(
    design: Design, family, response_data: dict, tp: TrueParameters, rng: np.random.Generator
) -> tuple[np.ndarray, dict]:
    """One simulated response for the design's rows, and the group effects drawn for it."""
    effects = draw_effects(design, tp, rng)
    coords = {"chain": [0], "draw": [0], **design.coords()}
    data = {names.B: (("chain", "draw", names.TERM), tp.b[None, None, :])}
    for f in design.factors:
        data[names.r_var(f.name)] = (
            ("chain", "draw", f.dim, names.coef_dim(f.name)),
            effects[f.name][None, None],
        )
    used = {d for dims, _ in data.values() for d in dims}
    point = xr.Dataset(data, coords={k: v for k, v in coords.items() if k in used})
    eta = linear_predictor(point, design)[0, 0]
    data = response_data_for(response_data, tp)
    return np.asarray(family.random(eta, data, rng, tp.aux)), effects


def response_data_for(response_data: dict, tp: TrueParameters) -> dict:
    """The prepared response arrays a simulation draws with.

    An ordinal model simulated on a design (no labels) takes its number of categories
    from the cutpoints given: categories ``1..K``.
    """
    cuts = tp.aux.get(names.CUTPOINTS)
    scores = response_data.get("scores")
    if cuts is not None and scores is not None and len(scores) != len(cuts) + 1:
        if "labels" in response_data:
            raise ArgumentError(
                f"params gives {len(cuts)} cutpoints, but the response has {len(scores)} categories "
                f"({list(response_data['labels'])}): give {len(scores) - 1}"
            )
        return response_data | {"scores": np.arange(1.0, len(cuts) + 2)}
    return response_data


def response_columns(design: Design) -> tuple[str, str | None]:
    """The response column a simulation writes, and the failures column of ``cbind(s, f)`` if it is one."""
    resp = design.formula.response
    expr = resp.expr.strip()
    if not expr.isidentifier() and not expr.startswith("`"):
        raise ArgumentError(
            f"simulating writes the response column, so the response must be a column name (it is {expr!r}); "
            "transform the simulated column afterwards instead"
        )
    other = (
        resp.other.strip()
        if resp.kind == "cbind" and resp.other and resp.other.strip().isidentifier()
        else None
    )
    return expr.strip("`"), other


def fill_response(
    data: pd.DataFrame, design: Design, y: np.ndarray, response_data: dict, family=None
) -> pd.DataFrame:
    """A copy of the model's rows with the simulated response written in."""
    column, failures = response_columns(design)
    out = data.copy()
    out[column] = family.to_column(y, response_data) if family is not None else y
    if failures is not None:
        out[failures] = np.asarray(response_data["n"]) - y
    return out


def with_placeholder(data: pd.DataFrame, response: str, family) -> pd.DataFrame:
    """``data`` with a stand-in response column (a design to simulate on has none yet).

    Values valid for the family (:meth:`Family.placeholder`): standard normal (Gaussian;
    default priors are then on a unit scale), alternating 0/1 (Bernoulli), 0 successes
    (binomial: the trials come from the formula's other columns), 1 (counts), ...
    """
    out = data.copy()
    out[response] = family.placeholder(len(out), np.random.default_rng(0))
    return out


def simulate_frames(data: pd.DataFrame, design: Design, family, response_data: dict, tps, seed) -> list:
    """One data set per parameter set in ``tps``, each from its own spawned seed."""
    response_columns(design)  # the response must be a column to write
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    rngs = [np.random.default_rng(s) for s in seq.spawn(len(tps))]
    frames = []
    for tp, rng in zip(tps, rngs, strict=True):
        y, effects = draw_response(design, family, response_data, tp, rng)
        df = fill_response(data, design, y, response_data, family)
        df.attrs.update(params=tp.labels(design), effects=effects)
        frames.append(df)
    return frames
