"""The :class:`Fit` facade: the posterior of a :class:`~bayesmix.Model` and what is computed from it.

A fit is data: the posterior DataTree (whose attributes carry the model's spec and the
sampler settings) plus the :class:`~bayesmix.Model` that rebuilds everything else; it
pickles, and :meth:`Fit.save` writes it to one file (:func:`bayesmix.load` reads it).
Each method hands the draws to the module that computes (``post.tables``,
``post.predict``, ``post.checks``) or draws (``plots``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from bayesmix import plots
from bayesmix.errors import argument_error
from bayesmix.inference.sampling import SamplerSettings, convergence_report
from bayesmix.post import checks, effects, serialize
from bayesmix.post import hypothesis as hypotheses
from bayesmix.post import predict as prediction
from bayesmix.post import report as reporting
from bayesmix.post import shrinkage as pooling
from bayesmix.post import tables as results
from bayesmix.simulate.draw import simulate_frames
from bayesmix.simulate.params import from_draws, true_parameters
from bayesmix.spec.design import Design

__all__ = ["Fit", "compare"]


class Fit:
    """A fitted model: the posterior draws and the tables built from them.

    Attributes
    ----------
    model : Model
        What was fitted.
    idata : xarray.DataTree
        ArviZ DataTree with groups ``posterior`` and ``sample_stats``.
    settings : SamplerSettings
        How it was sampled.
    """

    def __init__(self, model, idata, settings: SamplerSettings, collapsed: str | None = None):
        self.model = model
        self.idata = idata
        self.settings = settings
        #: what was integrated out while sampling ("group effects", ...), or None
        self.collapsed = collapsed
        idata.attrs["bayesmix_spec"] = json.dumps(model.spec())
        idata.attrs["bayesmix_sampler"] = json.dumps(
            {**settings.as_dict(), "collapsed": collapsed}, default=str
        )

    @property
    def interrupted(self) -> bool:
        """True for a fit of an interrupted run (``fit(on_interrupt="keep")``): not a finished posterior."""
        return bool(self.idata["posterior"].attrs.get("interrupted", 0))

    @property
    def posterior(self):
        """The posterior draws as an ``xarray.Dataset``."""
        return self.idata["posterior"].to_dataset()

    @property
    def design(self) -> Design:
        """The fitted design."""
        return self.model.design

    @cached_property
    def convergence(self) -> dict:
        """Divergences, max R-hat, min bulk ESS and whether all pass."""
        return convergence_report(self.idata)

    @cached_property
    def _table(self) -> pd.DataFrame:
        return results.parameter_table(self.posterior, self.design)

    def summary(self, prob: float = 0.95, ranef: bool = False, exponentiate: bool = False) -> pd.DataFrame:
        """Posterior summary of every parameter (brms labels).

        Parameters
        ----------
        prob : float
            Mass of the central interval (columns ``q2.5``/``q97.5`` for 0.95).
        ranef : bool
            Also list the group effects ``r_<factor>[level,coef]``.
        exponentiate : bool
            Report population effects as ``exp(b)`` (odds or rate ratios).

        Returns
        -------
        pandas.DataFrame
            Columns class, group, mean, sd, the interval, rhat, ess_bulk, ess_tail.
        """
        if not 0 < prob < 1:
            raise argument_error("prob", prob, "a number strictly between 0 and 1")
        if prob == 0.95 and not ranef and not exponentiate:
            return self._table.copy()
        return results.parameter_table(
            self.posterior, self.design, prob=prob, ranef=ranef, transform=np.exp if exponentiate else None
        )

    def fixef(self, prob: float = 0.95) -> pd.DataFrame:
        """Population-level effects (mean, sd, interval) by term."""
        return results.fixef(self.posterior, self.design, prob)

    def ranef(self, factor: str | None = None, prob: float = 0.95) -> pd.DataFrame:
        """Group-level deviations by (factor,) level and coefficient."""
        return results.ranef(self.posterior, self.design, factor, prob)

    def coef(self, factor: str | None = None, prob: float = 0.95) -> pd.DataFrame:
        """Per-level coefficients: population effect plus deviation."""
        return results.coef(self.posterior, self.design, factor, prob)

    def level2(self, prob: float = 0.95) -> pd.DataFrame:
        """Level-two coefficients (g00, g01, g10, g11...) by factor, varying coefficient and predictor."""
        return results.level2(self.posterior, self.design, prob)

    def varcorr(self, prob: float = 0.95) -> pd.DataFrame:
        """Group-level SDs and correlations and the residual SD."""
        return results.varcorr(self.posterior, self.design, prob)

    def predict(
        self,
        newdata: pd.DataFrame | None = None,
        kind: str = "mean",
        groups="all",
        new_levels: str = "error",
        marginal: bool = False,
        n_marginal: int = 100,
        seed: int | None = None,
    ) -> prediction.Predictions:
        """Predictions for the fitted rows or new data, draw by draw (brms's ``posterior_epred``).

        Parameters
        ----------
        newdata : pandas.DataFrame, optional
            Rows to predict: predictors and grouping columns (and the trials for binomial
            means and predictions). Default: the fitted rows.
        kind : {"mean", "link", "prediction"}
            Mean response (binomial: trials x probability; Poisson: the rate with the row's
            exposure), the linear predictor, or draws of the response.
        groups : "all", None or list of str
            Group effects of all factors (lme4's default), of none (population level,
            ``re.form = NA``), or of these factors.
        new_levels : {"error", "sample", "population"}
            Group levels not in the fit: an error listing them (default), effects drawn from
            the fitted group distribution (full covariance; reproducible with ``seed``), or 0.
        marginal : bool
            Population-averaged mean over the chosen factors' effects (Monte Carlo): what a
            GLMM predicts for a random member of the population, unlike ``groups=None``,
            which predicts at effects equal to 0.
        n_marginal : int
            Monte Carlo draws per posterior draw for ``marginal``.
        seed : int, optional
            Seeds new-level, marginal and predictive draws.

        Returns
        -------
        Predictions
            ``.draws`` (xarray, dims chain, draw, obs) and ``.summary()`` (mean, SD, interval).
        """
        return prediction.predict(
            self.posterior,
            self.design,
            self.model.family,
            self.model.response_data,
            newdata,
            kind=kind,
            groups=groups,
            new_levels=new_levels,
            marginal=marginal,
            n_marginal=n_marginal,
            seed=seed,
        )

    def log_likelihood(self) -> xr.DataArray:
        """Pointwise log-likelihood ``(chain, draw, obs)``, conditional on the group effects (as brms).

        Also stored as the DataTree's ``log_likelihood`` group (so ArviZ tools find it).
        """
        if "log_likelihood" not in self.idata.children:
            ll = checks.log_likelihood(
                self.posterior, self.design, self.model.family, self.model.response_data
            )
            self.idata["log_likelihood"] = xr.DataTree(xr.Dataset({"y": ll}))
        return self.idata["log_likelihood"]["y"]

    def add_posterior_predictive(self, seed: int | None = None) -> None:
        """Add posterior predictive draws of the response as the DataTree's ``posterior_predictive``
        (and the observed response as ``observed_data``, for ArviZ's checks)."""
        draws = self.predict(kind="prediction", seed=seed).draws.rename("y")
        self.idata["posterior_predictive"] = xr.DataTree(xr.Dataset({"y": draws}))
        observed = xr.DataArray(
            self.model.family.observed(self.model.response_data),
            dims=("obs",),
            coords={"obs": draws["obs"].values},
        )
        self.idata["observed_data"] = xr.DataTree(xr.Dataset({"y": observed}))

    def add_prior(self, draws: int = 1000, seed: int | None = None) -> None:
        """Add prior draws (``prior``) and the response they imply (``prior_predictive``) to the DataTree."""
        tree = self.model.prior_predictive(draws=draws, seed=seed)
        for group in ("prior", "prior_predictive"):
            self.idata[group] = tree[group]

    def loo(self, subsample: int | None = None, seed: int | None = None):
        """PSIS-LOO (arviz-stats): ELPD, its SE, p_loo and Pareto k per row; warns on high k.

        Parameters
        ----------
        subsample : int, optional
            Estimate the ELPD from this many randomly chosen rows (arviz-stats'
            ``loo_subsample``: exact PSIS on them, the log-likelihood at the posterior mean for
            the others, and a subsampling SE besides the usual SE).  For tens of thousands of rows, where
            exact PSIS-LOO, which arviz-stats computes row by row, takes a minute per model
            (InstEval, 73,421 rows x 800 draws: 60 s; 2,000 rows subsampled: 5 s, subsampling
            SE 0.4-0.8 on an ELPD SE of 129).  Default: every row, exactly.
        seed : int, optional
            Seeds the choice of rows.
        """
        rows = checks.subsample_rows(self.design.n_obs, subsample, seed)
        return self._loo(rows)

    def _loo(self, rows):
        if rows is None:
            return checks.loo(self.idata, self.log_likelihood())
        point = checks.point_log_likelihood(
            self.posterior, self.design, self.model.family, self.model.response_data
        )
        observed = self.model.family.observed(self.model.response_data)
        return checks.loo(self.idata, self.log_likelihood(), rows, point, observed)

    def icc(self, prob: float = 0.95) -> pd.DataFrame:
        """Intraclass correlation of each factor's intercept (latent scale for GLMMs); see
        :func:`bayesmix.post.checks.icc` for the residual variance used."""
        return checks.icc(self.posterior, self.design, self.model.family, self.model.response_data, prob)

    def r2(self, prob: float = 0.95) -> pd.DataFrame:
        """Bayesian R^2 (Gelman et al. 2019), conditional on the group effects and marginal."""
        eta_all = self.predict(kind="link").draws.values
        mu_fixed = self.predict(kind="mean", groups=None).draws.values
        return checks.r2(eta_all, mu_fixed, self.posterior, self.model.family, self.model.response_data, prob)

    def hypothesis(self, statements, prob: float = 0.95) -> pd.DataFrame:
        """Posterior probabilities of statements about parameters (brms's ``hypothesis``).

        Parameters
        ----------
        statements : str or list of str
            E.g. ``"Days > 5"``, ``"Intercept - 25 * Days < 0"``, ``"sd_Subject__Days = 5"``;
            terms that are not plain names in backticks (``"`Days:cond` > 0"``).  Parsed
            against an allow-list, never executed; see :mod:`bayesmix.post.hypothesis`.
        prob : float
            Mass of the interval.

        Returns
        -------
        pandas.DataFrame
            Estimate (of left minus right side), Est.Error, CI.Lower, CI.Upper,
            Evid.Ratio and Post.Prob (for ``<``/``>``) and Star, by statement.
        """
        return hypotheses.hypothesis(self.posterior, self.design, statements, prob)

    def shrinkage(self, factor: str | None = None, prob: float = 0.95) -> pooling.Shrinkage:
        """How far each group moved from its own estimate towards the population.

        One row per group level and varying coefficient: rows in the group, the
        no-pooling estimate (the group alone) and its SE, the complete-pooling estimate,
        the population (or level-two) prediction, the partial-pooling posterior mean and
        interval, and the shrinkage factor (0: kept its own estimate; 1: pooled
        completely).  ``.text`` says which groups shrank most and why.  See
        :mod:`bayesmix.post.shrinkage` for the definitions.
        """
        return pooling.shrinkage(
            self.posterior, self.design, self.model.family, self.model.response_data, factor, prob
        )

    def conditional_effects(
        self,
        effect: str,
        factor: str | None = None,
        levels=None,
        kind: str = "mean",
        n_points: int = 50,
        prob: float = 0.95,
    ) -> pd.DataFrame:
        """Predictions over a grid of one predictor, others at their mean or reference level.

        Population level (group effects at 0) and, with ``factor``, each group's curve;
        see :mod:`bayesmix.post.effects`.  ``fit.plot("effects", effect=...)`` draws it.
        """
        return effects.conditional_effects(
            self.posterior,
            self.design,
            self.model.family,
            self.model.response_data,
            self.model.data,
            effect,
            factor=factor,
            levels=levels,
            n_points=n_points,
            kind=kind,
            prob=prob,
        )

    def simulate(self, n: int | None = None, seed: int | None = None, params: Mapping | None = None):
        """Data sets drawn from the fitted model, on the fitted rows (simr's ``simulate``).

        Each data set takes one posterior draw chosen at random (new group effects are
        drawn from its SDs and correlations); ``params`` overrides chosen values, in
        brms labels, e.g. ``{"b_Days": 5}`` to ask what a smaller effect would look like.

        Parameters
        ----------
        n : int, optional
            Number of data sets (default: one frame, not a list).
        seed : int, optional
            Seeds the choice of draws, the group effects and the responses.
        params : dict, optional
            Values replacing the posterior draw's (flat brms labels).

        Returns
        -------
        pandas.DataFrame or list of DataFrame
            As :meth:`bayesmix.Model.simulate`.
        """
        if n is not None and (not isinstance(n, int) or n < 1):
            raise argument_error("n", n, "a positive integer")
        post = self.posterior
        C, D = post.sizes["chain"], post.sizes["draw"]
        seq_pick, seq_sim = np.random.SeedSequence(seed).spawn(2)
        picks = np.random.default_rng(seq_pick).integers(0, C * D, n or 1)
        tps = []
        for p in picks:
            tp = from_draws(post, self.design, int(p // D), int(p % D))
            if params:
                tp = true_parameters(
                    {**tp.labels(self.design), **dict(params)},
                    self.design,
                    self.model.family,
                    self.model.response_data,
                )
            tps.append(tp)
        frames = simulate_frames(
            self.model.data, self.design, self.model.family, self.model.response_data, tps, seq_sim
        )
        return frames[0] if n is None else frames

    def report(self) -> str:
        """The brms-style text report that ``print(fit)`` shows."""
        return reporting.format_report(
            self._table,
            self.design,
            self.model.family,
            self.settings,
            {
                "convergence": self.convergence,
                "collapsed": self.collapsed,
                "interrupted": self.idata["posterior"].attrs.get("draws_per_chain")
                if self.interrupted
                else None,
                "chains": self.idata["posterior"].sizes["chain"],
                "event": self.model.response_data.get("event"),
                "response_data": self.model.response_data,
                "weights": (
                    f"{self.model.weights_kind} weights {self.model.weights!r}"
                    if self.model.weights
                    else None
                ),
                "level2": self.level2() if self.design.level2 else None,
            },
        )

    def __repr__(self) -> str:
        return self.report()

    def plot(self, kind: str = "trace", factor: str | None = None, **kwargs):
        """Plot the fit; returns a matplotlib figure (drawn by :mod:`bayesmix.plots`).

        Parameters
        ----------
        kind : str
            ``trace``: draws and densities of population effects, SDs, correlations and
            sigma, a row per parameter; ``forest``: their intervals; ``ranef``/``coef``:
            caterpillar plots of the group deviations / per-level coefficients (all
            factors unless ``factor`` is given); ``shrinkage``: arrows from each group's
            own estimate to its posterior mean against group size; ``shrinkage2d``: the
            same for two coefficients with the population ellipses; ``lines``: per-group
            panels of data with no-, partial- and complete-pooling lines (``x=`` the
            slope's column); ``effects``: conditional effects (``effect=`` the predictor,
            ``factor`` for per-group curves); ``ppc``: posterior predictive check;
            ``prior_posterior``: prior and posterior densities (prior draws are added with
            :meth:`add_prior` when missing).
        factor : str, optional
            The grouping factor, for the kinds that draw one.
        **kwargs
            ``trace``: passed to arviz-plots; ``shrinkage``: ``coefs``; ``shrinkage2d``:
            ``coefs`` (two); ``lines``: ``x``, ``ncols``; ``effects``: ``effect``,
            ``levels``, ``kind``; ``ppc``: ``num_samples``, ``seed``; ``prior_posterior``:
            ``var_names``, ``seed``.
        """
        if kind not in plots.KINDS:
            raise argument_error("kind", kind, f"one of {plots.KINDS}")
        if kind == "trace":
            return plots.plot_trace(self.idata, **kwargs)
        if kind == "forest":
            return plots.plot_forest(self.summary())
        if kind == "ppc":
            seed = kwargs.pop("seed", None)
            if "posterior_predictive" not in self.idata.children:
                self.add_posterior_predictive(seed=seed)
            return plots.plot_ppc(self.idata, response=self.design.formula.response.expr, **kwargs)
        if kind == "prior_posterior":
            if "prior" not in self.idata.children:
                self.add_prior(seed=kwargs.pop("seed", None))
            return plots.plot_prior_posterior(
                self.idata, var_names=kwargs.pop("var_names", plots.trace_vars(self.idata)), **kwargs
            )
        if kind == "effects":
            if "effect" not in kwargs:
                raise argument_error("effect", None, "the predictor column to vary, e.g. effect='Days'")
            table = self.conditional_effects(
                kwargs.pop("effect"), factor=factor, levels=kwargs.pop("levels", None), **kwargs
            )
            return plots.plot_conditional_effects(table, response=self.design.formula.response.expr)
        if not self.design.factors:
            raise argument_error(
                "kind", kind, "'trace', 'forest', 'effects' or 'ppc': this model has no grouping factor"
            )
        if kind in ("ranef", "coef"):
            table = self.ranef(factor) if kind == "ranef" else self.coef(factor)
            population = self.fixef()["mean"].to_dict() if kind == "coef" else None
            return plots.plot_caterpillar(table, factor, kind, population=population)
        fname = factor or self.design.factors[0].name
        table = self.shrinkage(fname).table
        if kind == "shrinkage":
            return plots.plot_shrinkage(table, fname, **kwargs)
        if kind == "shrinkage2d":
            mean, cov, coefs = pooling.group_distribution(self.posterior, self.design, fname)
            return plots.plot_shrinkage_2d(table, mean, cov, coefs, fname, **kwargs)
        slopes = [c for c in self.design.factor(fname).coefs if c != "Intercept"]
        x = kwargs.pop("x", slopes[0] if slopes else None)
        return plots.plot_group_lines(
            self.model.data, table, x, self.design.formula.response.expr, fname, **kwargs
        )

    def save(self, path) -> Path:
        """Write the fit to one netCDF file: draws, spec, the data the model read, versions.

        :func:`bayesmix.load` reads it back into a fit with the same report and tables
        that can be refitted; see :mod:`bayesmix.post.serialize`.
        """
        return serialize.save(self, path)

    def to_netcdf(self, path: str) -> None:
        """Write only the posterior DataTree to a netCDF file (for ArviZ; :meth:`save` keeps everything)."""
        self.idata.to_netcdf(path, engine="h5netcdf")


def compare(fits: Mapping[str, Fit], subsample: int | None = None, seed: int | None = None):
    """Rank fits of the same rows by their PSIS-LOO ELPD, with SEs of the differences.

    Parameters
    ----------
    fits : dict
        Name -> :class:`Fit`, e.g. ``{"intercepts": fit1, "slopes": fit2}``.
    subsample : int, optional
        Subsampled LOO (see :meth:`Fit.loo`) on the same randomly chosen rows for every
        model, for large data; the table then has a ``subsampling_dse`` column and no
        stacking ``weight`` (which subsampled LOO does not estimate).
    seed : int, optional
        Seeds the choice of rows.

    Returns
    -------
    pandas.DataFrame
        arviz-stats' comparison table (rank, elpd, elpd_diff, dse, weight, ...).
    """
    if not isinstance(fits, Mapping) or not all(isinstance(f, Fit) for f in fits.values()):
        raise argument_error("fits", type(fits).__name__, "a dict of names to bayesmix Fits")
    n_obs = {fit.design.n_obs for fit in fits.values()}
    if len(n_obs) > 1:
        raise argument_error("fits", f"fits of {sorted(n_obs)} rows", "fits of the same rows")
    rows = checks.subsample_rows(n_obs.pop(), subsample, seed) if fits else None
    table = checks.compare({name: fit._loo(rows) for name, fit in fits.items()})
    if rows is not None and "weight" in table.columns:
        # arviz-stats gives every model the same stacking weight from subsampled LOO: not an estimate
        table = table.drop(columns="weight")
    return table
