"""Predictions from a fit: linear predictor, mean response, or posterior predictive draws.

For every posterior draw and row of the fitted data or of new data:

* ``kind="link"``: ``eta = X b + Z r + offset`` (:func:`bayesmix.core.predictor.linear_predictor`);
* ``kind="mean"``: the mean response ``g^{-1}(eta)`` (binomial: times the row's trials);
* ``kind="prediction"``: a response drawn from the family given that mean (and its extra
  parameters: sigma, shape, cutpoints, ...; row weights of the fit do not carry over).

Group effects enter for all factors (``groups="all"``, lme4's default), for chosen ones,
or for none (``groups=None``, lme4's ``re.form = NA``: population level, effects at 0).
For GLMMs ``marginal=True`` gives instead the *population-averaged* mean, which integrates
the group effects over their fitted distribution (Monte Carlo, ``n_marginal`` draws per
posterior draw) -- on the logit or log scale that is not the mean at effects set to zero.

Group levels the fit has not seen follow ``new_levels``: ``"error"`` (default; the message
lists them), ``"sample"`` (each new level gets effects drawn from the fitted group
distribution, its full covariance included, one draw per posterior draw, reproducible with
``seed``), or ``"population"`` (its effects are 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from bayesmix.core import names
from bayesmix.core.linalg import correlation_matrix
from bayesmix.core.predictor import chosen_factors, linear_predictor
from bayesmix.errors import DataError, argument_error, row_list
from bayesmix.inference.diagnostics import quantiles
from bayesmix.spec.design import Design, NewData
from bayesmix.spec.families import aux_draws
from bayesmix.spec.labels import group_labels

__all__ = ["KINDS", "NEW_LEVELS", "Predictions", "predict"]

KINDS = ("link", "mean", "prediction")
NEW_LEVELS = ("error", "sample", "population")
#: second word of the seed of new-level and marginal draws (a stream of its own)
_STREAM = 4243


@dataclass(frozen=True)
class Predictions:
    """Draws of a prediction and their summary.

    Attributes
    ----------
    draws : xarray.DataArray
        Dims ``(chain, draw, obs)``; ``obs`` holds the rows' labels.
    kind : str
        ``"link"``, ``"mean"`` or ``"prediction"``.
    """

    draws: xr.DataArray
    kind: str

    def summary(self, prob: float = 0.95) -> pd.DataFrame:
        """Mean, SD and central interval per row."""
        if not 0 < prob < 1:
            raise argument_error("prob", prob, "a number strictly between 0 and 1")
        arr = self.draws.transpose("chain", "draw", "obs").values.astype(float)
        lo, hi = (1 - prob) / 2, 1 - (1 - prob) / 2
        q_lo, q_hi = quantiles(arr, [lo, hi])
        flat = arr.reshape(-1, arr.shape[-1])
        return pd.DataFrame(
            {
                "mean": flat.mean(axis=0),
                "sd": flat.std(axis=0, ddof=1),
                f"q{100 * lo:g}": q_lo,
                f"q{100 * hi:g}": q_hi,
            },
            index=pd.Index(self.draws["obs"].values, name="obs"),
        )

    def __repr__(self) -> str:
        c, d, n = (self.draws.sizes[k] for k in ("chain", "draw", "obs"))
        return f"Predictions({self.kind!r}: {c} chains x {d} draws x {n} rows)\n{self.summary().head(10)}"


def _cholesky_draws(post, f) -> np.ndarray | None:
    """Draws of the factor's correlation Cholesky factor, ``(chain, draw, k, k)``, or None."""
    if not f.cor_pairs():
        return None
    cor = post[names.cor_var(f.name)].transpose("chain", "draw", names.cor_dim(f.name)).values
    return np.linalg.cholesky(correlation_matrix(cor, f.cor_pairs(), len(f.coefs)))


def _effect_draws(post, f, n_new: int, rng: np.random.Generator, extra: int = 1) -> np.ndarray:
    """Effects of ``n_new`` groups from the fitted distribution: ``(chain, draw, extra, n_new, k)``."""
    sd = post[names.sd_var(f.name)].transpose("chain", "draw", names.coef_dim(f.name)).values
    L = _cholesky_draws(post, f)
    z = rng.standard_normal(sd.shape[:2] + (extra, n_new, len(f.coefs)))
    if L is not None:
        z = np.einsum("cdij,cdenj->cdeni", L, z)
    return z * sd[:, :, None, None, :]


def predict(
    post,
    design: Design,
    family,
    response_data: dict,
    newdata: pd.DataFrame | None = None,
    kind: str = "mean",
    groups="all",
    new_levels: str = "error",
    marginal: bool = False,
    n_marginal: int = 100,
    seed: int | None = None,
) -> Predictions:
    """Predictions of a fitted model; see the module docstring.

    Parameters
    ----------
    post : xarray.Dataset
        The fit's posterior.
    design, family, response_data
        The fitted model's design, family and prepared response arrays.
    newdata : pandas.DataFrame, optional
        Rows to predict (predictors, grouping columns, and trials for binomial means and
        predictions); default the fitted rows.
    kind : {"link", "mean", "prediction"}
    groups : "all", None or list of str
    new_levels : {"error", "sample", "population"}
    marginal : bool
        Population-averaged mean over the chosen factors' effects (needs ``kind`` "mean").
    n_marginal : int
        Monte Carlo draws of the group effects per posterior draw for ``marginal``.
    seed : int, optional
        Seeds new-level, marginal and predictive draws.
    """
    if kind not in KINDS:
        raise argument_error("kind", kind, f"one of {KINDS}")
    if new_levels not in NEW_LEVELS:
        raise argument_error("new_levels", new_levels, f"one of {NEW_LEVELS}")
    if marginal and kind != "mean":
        raise argument_error("marginal", marginal, "False unless kind='mean' (population-averaged means)")
    if not isinstance(n_marginal, int) or n_marginal < 1:
        raise argument_error("n_marginal", n_marginal, "a positive integer")
    factors = chosen_factors(design, groups)
    if marginal and not factors:
        # averaging over no factor would silently return the population-level (effects = 0) mean
        raise argument_error(
            "groups",
            groups,
            "the factors to average over when marginal=True (groups='all', the default, averages "
            "over every factor); groups=None gives the mean at group effects of 0 instead",
        )
    rng = np.random.default_rng(None if seed is None else [seed, _STREAM])
    if newdata is None:
        new = None
        index = {f.name: f.index for f in design.factors}
        Z = {f.name: f.Z for f in design.factors}
        rows = np.asarray(design.rows)
        trials = response_data.get("n")
    else:
        new = design.encode(newdata, new_levels="allow")
        index, Z, rows = new.index, new.Z, np.asarray(newdata.index)
        if new_levels == "error" and not marginal:
            for f in factors:  # only the factors whose effects the prediction uses
                unseen = index[f.name] < 0
                if unseen.any():
                    levels = sorted({str(v) for v in group_labels(newdata, f.columns)[unseen]})
                    raise DataError(
                        f"factor {f.name!r} has levels not in the fitted data: {levels[:10]}"
                        + (f" and {len(levels) - 10} more" if len(levels) > 10 else "")
                        + f" ({row_list(newdata.index, unseen)}); pass new_levels='sample' to draw their "
                        "effects from the fitted group distribution, 'population' to set them to 0, or "
                        f"groups=None for population-level predictions"
                    )
        trials = design.trials(newdata) if (kind != "link" and "n" in response_data) else None
    # the factors in eta: conditional ones, minus those integrated over for marginal means
    in_eta = [] if marginal else factors
    eta = linear_predictor(post, design, _known_only(new, in_eta), groups=[f.name for f in in_eta])
    for f in in_eta:
        idx = index[f.name]
        unseen = idx < 0
        if unseen.any() and new_levels == "sample":
            labels, inverse = np.unique(
                group_labels(newdata, f.columns)[unseen].astype(str), return_inverse=True
            )
            u = _effect_draws(post, f, len(labels), rng)[:, :, 0]  # (chain, draw, n_new, k)
            eta[..., unseen] += np.einsum("cdnk,nk->cdn", u[:, :, inverse, :], Z[f.name][unseen])
    # what the family's numpy side needs besides eta; weights do not carry over to predictions
    data = {k: v for k, v in response_data.items() if k in ("scores", "labels")}
    if trials is not None:
        data["n"] = trials
    if kind == "link":
        out = eta
    elif marginal:
        out = _marginal_mean(post, design, family, eta, factors, index, Z, data, n_marginal, rng)
    else:
        aux = aux_draws(post, family, response_data)
        out = family.mean(eta, data, aux)
        if kind == "prediction":
            out = family.random(eta, data, rng, aux)
    da = xr.DataArray(
        np.asarray(out),
        dims=("chain", "draw", "obs"),
        coords={"chain": post["chain"].values, "draw": post["draw"].values, "obs": rows},
        name={"link": "eta", "mean": "mu", "prediction": "y"}[kind],
        attrs={"kind": kind, "groups": str(groups), "marginal": int(marginal), "new_levels": new_levels},
    )
    return Predictions(da, kind)


def _known_only(new: NewData | None, factors) -> NewData | None:
    """``new`` with unseen levels' index set to a valid level and their Z to 0 (added later)."""
    if new is None:
        return None
    index, Z = dict(new.index), dict(new.Z)
    for f in factors:
        unseen = index[f.name] < 0
        if unseen.any():
            index[f.name] = np.where(unseen, 0, index[f.name])
            Z[f.name] = np.where(unseen[:, None], 0.0, Z[f.name])
    return NewData(X=new.X, index=index, Z=Z, offset=new.offset)


def _marginal_mean(post, design, family, eta, factors, index, Z, data, n_marginal, rng, chunk=2_000_000):
    """Mean response averaged over the factors' effects drawn from their fitted distribution.

    ``index`` is unused: a population-averaged mean does not depend on the row's group.
    """
    if not factors:
        return family.mean(eta, data, aux_draws(post, family, data))
    aux = aux_draws(post, family, data, row_axes=2)  # against (chain, draw, m, obs)
    C, D, n = eta.shape
    total = np.zeros_like(eta)
    step = max(1, chunk // max(1, C * D * n))
    for lo in range(0, n_marginal, step):
        m = min(step, n_marginal - lo)
        e = np.repeat(eta[:, :, None, :], m, axis=2)  # (C, D, m, n)
        for f in factors:
            # one effect vector per Monte Carlo draw serves every row: each row's mean is
            # an expectation over the effects on its own
            u = _effect_draws(post, f, 1, rng, extra=m)[:, :, :, 0, :]  # (C, D, m, k)
            e = e + np.einsum("cdmk,nk->cdmn", u, Z[f.name])
        total += family.mean(e, data, aux).sum(axis=2)
    return total / n_marginal
