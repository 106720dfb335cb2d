"""Shrinkage: how far each group's coefficients moved from its own estimate towards the population.

Partial pooling is the reason to fit a multilevel model; this module puts the three
classic estimates of a group's varying coefficients side by side:

* **no pooling** -- the group alone: least squares (Gaussian) or maximum likelihood
  (GLMs) of the response on the factor's varying-coefficient columns in that group's
  rows.  Population terms that do not vary by the factor, the other factors' effects
  and offsets enter as a fixed offset at their posterior means, so the estimate is on
  the same scale as ``coef()``.  Where it does not exist (fewer rows than coefficients,
  a constant predictor, separation or all-zero counts) the row is kept and marked;
* **complete pooling** -- one regression of the response on the population design,
  ignoring the groups (with the level-two prediction, where the factor has one);
* **partial pooling** -- the posterior of the group's coefficient (``coef()``).

The **shrinkage factor** of a group is the share of the distance from its no-pooling
estimate to the population (or level-two) prediction that the posterior moved,
``1 - |partial - population| / |no_pooling - population|``, with distances measured in
the metric of the fitted group covariance (``d' Sigma^-1 d``).  Given the hyperparameters
the partial-pooling estimate is ``population + Sigma (Sigma + V_j)^-1 (no_pooling -
population)``, a contraction in that metric, so the factor lies in [0, 1] (up to Monte
Carlo error): 0 is no pooling, 1 complete pooling.  For one varying coefficient it is
``(no_pooling - partial) / (no_pooling - population)``.  ``shrinkage_coef`` gives that
ratio coefficient by coefficient; with correlated coefficients it can leave [0, 1] (a
group's intercept pulled past the population value by what its slope says), which is
why the group-level factor is the one reported.  For GLMs the posterior is not a linear
contraction of the (link-scale) maximum-likelihood estimate, and a group whose own
estimate lies within half a posterior SD of the population value has an unstable
factor (a small difference divided by a small difference); its note says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats

from bayesmix.core import names
from bayesmix.core.linalg import correlation_matrix
from bayesmix.core.predictor import coefficient_mean, coefficients, linear_predictor
from bayesmix.errors import argument_error
from bayesmix.inference.diagnostics import quantiles
from bayesmix.spec.design import Design
from bayesmix.spec.families import aux_draws

__all__ = ["Shrinkage", "shrinkage", "group_distribution", "no_pooling"]

#: |Z @ estimate| (link scale) beyond which a GLM's maximum likelihood is taken as not existing:
#: fitted probabilities within 1e-11 of 0 or 1 mean the data separate (the optimiser stopped on a
#: flat likelihood on its way to infinity)
_DIVERGED = 25.0


@dataclass(frozen=True)
class Shrinkage:
    """The shrinkage report of one or more factors.

    Attributes
    ----------
    table : pandas.DataFrame
        Indexed by (factor, level, coef); columns ``n`` (rows), ``no_pooling`` and its
        ``no_pooling_se``, ``complete_pooling``, ``population`` (population or level-two
        prediction, posterior mean), ``partial_pooling`` (posterior mean) with ``sd`` and
        the central interval, ``shrinkage`` and ``note`` (why a no-pooling estimate is
        missing, else empty).
    text : str
        Which groups shrank most, and why.
    """

    table: pd.DataFrame
    text: str

    def __repr__(self) -> str:
        return f"{self.text}\n\n{self.table.to_string(max_rows=20)}"


def _fit_glm(family, y, Z, offset, data, aux) -> tuple[np.ndarray, np.ndarray, str]:
    """Maximum likelihood of ``y`` on ``Z`` with ``offset``: estimate, SE and a note ('' if fine).

    Least squares for the Gaussian (of ``log y`` for the lognormal); otherwise the family's
    log density maximised with its extra parameters (``aux``: shape, nu, cutpoints, ...)
    fixed at their posterior means.
    """
    k = Z.shape[1]
    if family.name in ("gaussian", "lognormal"):
        if family.name == "lognormal":
            y = np.log(y)
        coef, *_ = np.linalg.lstsq(Z, y - offset, rcond=None)
        dof = len(y) - k
        if dof > 0:
            resid = y - offset - Z @ coef
            cov = np.linalg.inv(Z.T @ Z) * (resid @ resid) / dof
            se = np.sqrt(np.diag(cov))
        else:
            se = np.full(k, np.nan)
        return coef, se, ""

    if family.name == "poisson" and not np.any(y > 0):
        return np.full(k, np.nan), np.full(k, np.nan), "no finite estimate (counts all zero)"
    if family.name in ("bernoulli", "binomial"):
        top = data["n"] if family.name == "binomial" else 1
        if np.all(y == 0) or np.all(y == top):
            return (
                np.full(k, np.nan),
                np.full(k, np.nan),
                "no finite estimate (separation: all responses alike)",
            )

    def nll(beta):
        return -float(np.sum(family.logpdf(y, offset + Z @ beta, data, aux)))

    res = optimize.minimize(nll, np.zeros(k), method="BFGS")
    coef = np.asarray(res.x)
    if not np.all(np.isfinite(coef)) or np.max(np.abs(Z @ coef)) > _DIVERGED:
        what = "counts all zero" if family.name == "poisson" else "separation"
        return np.full(k, np.nan), np.full(k, np.nan), f"no finite estimate ({what})"
    se = np.sqrt(np.clip(np.diag(np.atleast_2d(res.hess_inv)), 0, None))
    return coef, se, ""


def _subset(response_data: dict, rows: np.ndarray) -> dict:
    """The response arrays of some rows (per-row arrays subset, the rest kept)."""
    n = len(response_data["y"])
    return {
        k: (v[rows] if isinstance(v, np.ndarray) and v.ndim == 1 and len(v) == n else v)
        for k, v in response_data.items()
    }


def no_pooling(post, design: Design, family, response_data: dict, factor: str) -> pd.DataFrame:
    """Each group's own estimate of the factor's varying coefficients (see the module docstring).

    Returns
    -------
    pandas.DataFrame
        Indexed by (level, coef) with columns ``n``, ``no_pooling``, ``no_pooling_se``, ``note``.
    """
    f = design.factor(factor)
    y = np.asarray(response_data["y"], dtype=float)
    aux = aux_means(post, family, response_data)
    # the offset: the posterior mean of eta with the other factors' effects, less this factor's
    # coefficients and its level-two terms (the part the group's own regression estimates)
    others = [g.name for g in design.factors if g.name != f.name]
    offset = linear_predictor(post, design, groups=others).mean(axis=(0, 1))
    if names.B in post:
        b = post[names.B].transpose("chain", "draw", names.TERM).values.mean(axis=(0, 1))
        own = set(f.coefs) | {t.term for t in design.level2 if t.factor == f.name}
        mine = [i for i, t in enumerate(design.terms) if t in own]
        offset = offset - design.X[:, mine] @ b[mine]
    rows, k = [], len(f.coefs)
    for j, level in enumerate(f.levels):
        sel = np.flatnonzero(f.index == j)
        Zj = f.Z[sel]
        if len(sel) < k or np.linalg.matrix_rank(Zj) < k:
            what = "fewer rows than coefficients" if len(sel) < k else "a predictor is constant in the group"
            est, se, note = np.full(k, np.nan), np.full(k, np.nan), f"no estimate ({what})"
        else:
            est, se, note = _fit_glm(family, y[sel], Zj, offset[sel], _subset(response_data, sel), aux)
        for c, coef in enumerate(f.coefs):
            rows.append((level, coef, len(sel), est[c], se[c], note))
    out = pd.DataFrame(rows, columns=["level", "coef", "n", "no_pooling", "no_pooling_se", "note"])
    return out.set_index(["level", "coef"])


def _complete_pooling(post, design: Design, family, response_data: dict) -> np.ndarray:
    """Population coefficients of one regression ignoring the groups (None-safe for no ``b``)."""
    offset = np.zeros(design.n_obs) if design.offset is None else np.asarray(design.offset, dtype=float)
    y = np.asarray(response_data["y"], float)
    est, _, _ = _fit_glm(family, y, design.X, offset, response_data, aux_means(post, family, response_data))
    return est


def aux_means(post, family, response_data: dict) -> dict:
    """Posterior means of the family's extra parameters (numbers; cutpoints as a vector)."""
    return {k: v.mean(axis=(0, 1)) for k, v in aux_draws(post, family, response_data, row_axes=0).items()}


def group_distribution(post, design: Design, factor: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The fitted distribution of a factor's coefficients: mean, covariance (posterior means) and names.

    The mean holds the population effects of the varying coefficients (0 for those
    without one); the covariance is ``diag(sd) R diag(sd)`` from the posterior means of
    the SDs and correlations.  This is the ellipse the shrinkage picture draws.
    """
    f = design.factor(factor)
    sd = (
        post[names.sd_var(f.name)].transpose("chain", "draw", names.coef_dim(f.name)).values.mean(axis=(0, 1))
    )
    cor = (
        post[names.cor_var(f.name)].transpose("chain", "draw", names.cor_dim(f.name)).values.mean(axis=(0, 1))
        if f.cor_pairs()
        else None
    )
    R = correlation_matrix(cor, f.cor_pairs(), len(f.coefs))
    b = (
        post[names.B].transpose("chain", "draw", names.TERM).values.mean(axis=(0, 1))
        if names.B in post
        else None
    )
    mean = np.array(
        [b[design.terms.index(c)] if (b is not None and c in design.terms) else 0.0 for c in f.coefs]
    )
    return mean, sd[:, None] * R * sd[None, :], list(f.coefs)


def _group_shrinkage(part: pd.DataFrame, post, design: Design, f) -> np.ndarray:
    """Per group, ``1 - |partial - population| / |no_pooling - population|`` in the metric of the
    fitted group covariance (one number per group, repeated on its coefficients' rows)."""
    _, cov, _ = group_distribution(post, design, f.name)
    prec = np.linalg.pinv(cov)
    k = len(f.coefs)
    vals = part[["no_pooling", "partial_pooling", "population"]].to_numpy().reshape(f.n_levels, k, 3)
    d = vals[..., 0] - vals[..., 2]
    e = vals[..., 1] - vals[..., 2]
    dd = np.einsum("jk,kl,jl->j", d, prec, d)
    ee = np.einsum("jk,kl,jl->j", e, prec, e)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(dd > 0, 1.0 - np.sqrt(ee / dd), np.nan)
    return np.repeat(s, k)


def _describe(table: pd.DataFrame) -> str:
    """Which groups shrank most and why, a paragraph per factor."""
    lines = []
    for factor, sub in table.groupby(level="factor", sort=False):
        sub = sub.droplevel("factor")
        # noise of each group's own estimate: its SEs relative to the median SE, per coefficient
        rel = (
            (sub["no_pooling_se"] / sub.groupby(level="coef")["no_pooling_se"].transform("median"))
            .groupby(level="level", sort=False)
            .mean()
        )
        per = sub.groupby(level="level", sort=False).first()
        per["noise"] = rel
        s = per["shrinkage"].dropna()
        head = f"{factor}: median shrinkage {s.median():.2f} over {len(s)} groups" if len(s) else f"{factor}:"
        if len(s) >= 3 and s.nunique() > 1 and per.loc[s.index, "n"].nunique() > 1:
            rho = stats.spearmanr(per.loc[s.index, "n"], s).statistic
            head += f"; rank correlation with group size {rho:+.2f}"
        lines.append(head + ".")
        if len(s):
            med_n = float(per["n"].median())
            parts = []
            for level in s.sort_values(ascending=False).index[:3]:
                row = per.loc[level]
                why = []
                if row["n"] < med_n:
                    why.append(f"{int(row['n'])} row{'s' if int(row['n']) != 1 else ''} (median {med_n:g})")
                if np.isfinite(row["noise"]) and row["noise"] > 1.25:
                    why.append(f"a noisy own estimate (SE {row['noise']:.1f}x the median)")
                reason = "; ".join(why) if why else "typical size and noise"
                parts.append(f"{level} ({row['shrinkage']:.2f}: {reason})")
            lines.append("  Shrank most: " + ", ".join(parts) + ".")
        missing = int(per["no_pooling"].isna().sum())
        if missing:
            lines.append(f"  {missing} group(s) have no no-pooling estimate (see the note column).")
    return "\n".join(lines)


def shrinkage(
    post, design: Design, family, response_data: dict, factor: str | None = None, prob: float = 0.95
):
    """The shrinkage report of one factor, or of every factor (see the module docstring).

    Parameters
    ----------
    post : xarray.Dataset
        The fit's posterior (group effects included: collapsed fits carry their exact draws).
    design, family, response_data
        The fitted model's design, family and prepared response arrays.
    factor : str, optional
        One factor (default: all).
    prob : float
        Mass of the partial-pooling interval.

    Returns
    -------
    Shrinkage
    """
    if not design.factors:
        raise argument_error("factor", factor, "a grouping factor: this model has none")
    if not 0 < prob < 1:
        raise argument_error("prob", prob, "a number strictly between 0 and 1")
    factors = [design.factor(factor)] if factor is not None else list(design.factors)
    b_cp = _complete_pooling(post, design, family, response_data)
    lo, hi = (1 - prob) / 2, 1 - (1 - prob) / 2
    frames = []
    b = post[names.B].transpose("chain", "draw", names.TERM).values if names.B in post else None

    def b_draws(term):
        return b[..., design.terms.index(term)]

    def b_pooled(term):
        return np.asarray(b_cp[design.terms.index(term)])

    for f in factors:
        nopool = no_pooling(post, design, family, response_data, f.name)
        total, cols = coefficients(post, design, f)  # (chain, draw, J, n)
        zero = np.zeros(total.shape[:2])
        per_coef = {}
        for c in f.coefs:
            arr = total[..., cols.index(c)]  # (chain, draw, J)
            population = c if c in design.terms else None
            target = coefficient_mean(f, c, design, b_draws, np, zero, population)
            cp = coefficient_mean(f, c, design, b_pooled, np, np.asarray(0.0), population)
            flat = arr.reshape(-1, arr.shape[-1])
            per_coef[c] = (
                np.broadcast_to(cp, (f.n_levels,)),
                target.reshape(-1, f.n_levels).mean(axis=0),
                flat.mean(axis=0),
                flat.std(axis=0, ddof=1),
                *quantiles(arr, [lo, hi]),
            )
        recs = [
            (f.name, level, c, *(float(v[j]) for v in per_coef[c]))
            for j, level in enumerate(f.levels)
            for c in f.coefs
        ]
        stat_cols = [
            "complete_pooling",
            "population",
            "partial_pooling",
            "sd",
            f"q{100 * lo:g}",
            f"q{100 * hi:g}",
        ]
        part = pd.DataFrame(recs, columns=["factor", "level", "coef", *stat_cols]).set_index(
            ["factor", "level", "coef"]
        )
        np_rows = nopool.loc[[(lev, c) for (_, lev, c) in part.index]].set_index(part.index)
        part = pd.concat([np_rows[["n", "no_pooling", "no_pooling_se"]], part, np_rows[["note"]]], axis=1)
        dist = part["no_pooling"] - part["population"]
        moved = ((part["no_pooling"] - part["partial_pooling"]) / dist).where(dist.abs() > 0)
        group = moved.to_numpy() if len(f.coefs) == 1 else _group_shrinkage(part, post, design, f)
        part.insert(len(part.columns) - 1, "shrinkage", group)
        part.insert(len(part.columns) - 1, "shrinkage_coef", moved)
        near = (dist.abs() < 0.5 * part["sd"]).groupby(level="level", sort=False).transform("all")
        part.loc[near & (part["note"] == ""), "note"] = "own estimate within 0.5 SD of the population value"
        frames.append(part)
    table = pd.concat(frames)
    table["n"] = table["n"].astype(int)
    return Shrinkage(table, _describe(table))
