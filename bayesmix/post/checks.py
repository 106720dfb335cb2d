"""Pointwise log-likelihood, posterior predictive draws and PSIS-LOO of a fit.

The log-likelihood of each row is conditional on the group effects, as brms computes it
(so LOO asks how well the model predicts a left-out row of a group it has seen); for
collapsed fits the group effects are their exact conditional draws, which makes the
result agree with the full model's within Monte Carlo error.  Everything is computed
in chunks of draws, so InstEval-sized data fit in memory.  LOO itself is arviz-stats'
PSIS-LOO (:func:`arviz_stats.loo`); Pareto k above arviz-stats' threshold (0.7 for
thousands of draws) gets a warning with advice.
"""

from __future__ import annotations

import warnings

import arviz_stats
import numpy as np
import pandas as pd
import xarray as xr

from bayesmix.core import names
from bayesmix.core.predictor import linear_predictor
from bayesmix.errors import ArgumentError, ConvergenceWarning, argument_error
from bayesmix.spec.families import aux_draws

__all__ = ["log_likelihood", "point_log_likelihood", "loo", "compare", "icc", "r2"]


def log_likelihood(post, design, family, response_data: dict, chunk_draws: int = 200) -> xr.DataArray:
    """Pointwise log-likelihood ``(chain, draw, obs)`` of the fitted rows, given the group effects.

    Parameters
    ----------
    post : xarray.Dataset
        The posterior.
    design, family, response_data
        The fitted model's design, family and prepared response arrays.
    chunk_draws : int
        Draws per chain handled at once (memory: chains x chunk x rows numbers).
    """
    y = response_data["y"]
    C, D = post.sizes["chain"], post.sizes["draw"]
    out = None
    for lo in range(0, D, chunk_draws):
        part = post.isel(draw=slice(lo, lo + chunk_draws))
        eta = linear_predictor(part, design)
        values = family.logpdf(y, eta, response_data, aux_draws(part, family, response_data))
        values = np.asarray(values, dtype=float)
        if D <= chunk_draws and values.shape == (C, D, design.n_obs) and values.flags.writeable:
            out = values  # one chunk: no copy (first writes to fresh memory cost page faults)
            break
        if out is None:
            out = np.empty((C, D, design.n_obs))
        out[:, lo : lo + chunk_draws] = values
    return xr.DataArray(
        out,
        dims=("chain", "draw", "obs"),
        coords={"chain": post["chain"].values, "draw": post["draw"].values, "obs": np.asarray(design.rows)},
        name="y",
    )


def subsample_rows(n_obs: int, subsample, seed: int | None = None) -> np.ndarray | None:
    """Sorted row positions for subsampled LOO (the same for every model compared), or None."""
    if subsample is None:
        return None
    if not isinstance(subsample, int | np.integer) or isinstance(subsample, bool) or subsample < 10:
        raise argument_error("subsample", subsample, "None or a number of rows >= 10")
    if subsample >= n_obs:
        return None  # every row: exact PSIS-LOO
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_obs, int(subsample), replace=False))


def point_log_likelihood(post, design, family, response_data: dict) -> np.ndarray:
    """Log-likelihood of every row at the posterior mean of the parameters (group effects
    included), shape ``(obs,)``: the point approximation of subsampled LOO."""
    means = post.mean(("chain", "draw")).expand_dims(chain=[0], draw=[0])
    return log_likelihood(means, design, family, response_data).values[0, 0]


def loo(idata, log_lik: xr.DataArray, rows: np.ndarray | None = None, point=None, observed=None):
    """PSIS-LOO of a fit from its DataTree and pointwise log-likelihood (arviz-stats' ELPDData).

    With ``rows`` (from :func:`subsample_rows`), arviz-stats' ``loo_subsample``: exact PSIS on
    those rows, an approximation for the others, and a difference estimator with its
    subsampling SE (Magnusson et al. 2019).  The approximation is the log-likelihood at the
    posterior mean (``point``: the rows' values, from :func:`point_log_likelihood`; R's
    ``loo_subsample`` default, "plpd"; ``observed``: the response, which arviz-stats aligns it
    with), else the log predictive density over the draws.
    (SciPy's ``logsumexp`` with the weights arviz-stats passes for the latter broadcasts them to
    the whole draws x rows array: 10 s per model on InstEval's 73,421 rows x 800 draws.)

    Warns (:class:`~bayesmix.ConvergenceWarning`) when Pareto k exceeds the threshold for some rows,
    naming how many and what to do.
    """
    tree = xr.DataTree.from_dict(
        {"posterior": idata["posterior"].to_dataset(), "log_likelihood": xr.Dataset({"y": log_lik})}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # arviz-stats' own Pareto-k warning is replaced by ours
        if rows is None:
            result = arviz_stats.loo(tree, pointwise=True, var_name="y")
        elif point is None:
            result = arviz_stats.loo_subsample(tree, observations=rows, pointwise=True, var_name="y")
        else:
            values = xr.DataArray(
                np.asarray(point, dtype=float), dims=("obs",), coords={"obs": log_lik["obs"]}
            )
            obs = xr.DataArray(np.asarray(observed), dims=("obs",), coords={"obs": log_lik["obs"]})
            tree["observed_data"] = xr.DataTree(xr.Dataset({"y": obs}))
            result = arviz_stats.loo_subsample(
                tree,
                observations=rows,
                pointwise=True,
                var_name="y",
                method="plpd",
                log_lik_fn=lambda observed, data: values,
            )
    k = np.asarray(result.pareto_k, dtype=float)
    k = k[np.isfinite(k)]  # subsampled: only the sampled rows have a k
    good = float(getattr(result, "good_k", None) or 0.7)  # arviz-stats' threshold for this many draws
    bad = int((k > good).sum())
    if bad:
        warnings.warn(
            f"{bad} of {k.size} rows have Pareto k > {good:.2f} (max {k.max():.2f}): their leave-one-out "
            "estimates are unreliable; rows that alone inform a group effect do this. Refit without "
            "them (exact LOO for those rows), or use K-fold cross-validation",
            ConvergenceWarning,
            stacklevel=3,
        )
    return result


def compare(loos: dict):
    """Rank models by ELPD with standard errors of the differences (arviz-stats' ``compare``).

    ``loos`` maps names to the results of :func:`loo` (same rows in every model).
    """
    if not isinstance(loos, dict) or len(loos) < 2:
        raise ArgumentError(
            "compare() takes a dict of at least two named fits, e.g. {'m1': fit1, 'm2': fit2}"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return arviz_stats.compare(loos)


def _summary(draws: dict, prob: float) -> pd.DataFrame:
    lo, hi = (1 - prob) / 2, 1 - (1 - prob) / 2
    rows = {}
    for name, d in draws.items():
        flat = np.asarray(d, dtype=float).ravel()
        rows[name] = {
            "mean": flat.mean(),
            "sd": flat.std(ddof=1),
            f"q{100 * lo:g}": np.quantile(flat, lo),
            f"q{100 * hi:g}": np.quantile(flat, hi),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def icc(post, design, family, response_data: dict, prob: float = 0.95) -> pd.DataFrame:
    """Intraclass correlation of each factor's intercept, draw by draw, summarised.

    ``sd_f^2 / (sum_g sd_g^2 + residual)``: the share of the (latent) variance, at zero for
    any varying slopes, that lies between groups of factor ``f``.  Residual
    (:meth:`Family.latent_residual`): sigma^2 (Gaussian, Student-t scale, lognormal's
    log scale); on the latent scale pi^2/3 (logit) or 1 (probit), ordinal models included;
    for Poisson ``log(1 + 1/mean(y))`` and negative binomial ``log(1 + 1/mean(y) + 1/shape)``
    (the log-normal approximation of Nakagawa, Johnson & Schielzeth 2017); gamma
    ``trigamma(shape)``.  The table's ``attrs["residual"]`` says which.
    """
    var = {
        f.name: post[names.sd_var(f.name)]
        .sel({names.coef_dim(f.name): "Intercept"})
        .transpose("chain", "draw")
        .values
        ** 2
        for f in design.factors
        if "Intercept" in f.coefs
    }
    resid, what = family.latent_residual(response_data, aux_draws(post, family, response_data, row_axes=0))
    total = sum(var.values()) + resid
    out = _summary({name: v / total for name, v in var.items()}, prob)
    out.index.name = "factor"
    out.attrs["residual"] = what
    return out


def r2(eta_all: np.ndarray, mu_fixed: np.ndarray, post, family, response_data: dict, prob: float = 0.95):
    """Bayesian R^2 (Gelman, Goodrich, Gabry & Vehtari 2019), conditional and marginal.

    Per draw, ``V_fit = var_n(mu_n)`` over the rows and ``V_res = mean_n Var(y_n | eta_n)``,
    the family's variance given the linear predictor (:meth:`Family.variance`): sigma^2
    (Gaussian), ``mu(1 - mu)`` (Bernoulli), ``n p (1 - p)`` (binomial), ``mu`` (Poisson),
    ``mu + mu^2/shape`` (negative binomial), ``mu^2/shape`` (gamma), ...  Conditional:
    ``V_fit / (V_fit + V_res)`` with the group effects in ``mu``; marginal: the variance
    of the population-level fitted values over the same denominator.
    """
    aux = aux_draws(post, family, response_data)
    mu_all = family.mean(eta_all, response_data, aux)
    v_all = mu_all.var(axis=-1, ddof=1)
    v_fixed = mu_fixed.var(axis=-1, ddof=1)
    v_res = family.variance(eta_all, response_data, aux).mean(axis=-1)
    denom = v_all + v_res
    return _summary({"conditional": v_all / denom, "marginal": v_fixed / denom}, prob)
