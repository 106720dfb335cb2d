"""The :class:`Model` facade: a formula, family and priors bound to data (its fit: :mod:`bayesmix.fit`).

Both are thin and both pickle: a :class:`Model` is immutable (its PyMC graphs are
built on demand and not pickled; compiled code lives in a
:class:`~bayesmix.inference.compiled.CompileCache`), and a :class:`Fit` is data -- the
posterior DataTree, whose attributes carry the model's spec and the sampler settings,
plus the :class:`Model` that rebuilds everything else.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from bayesmix import collapsed
from bayesmix.collapsed.crossed import RowsCollapse
from bayesmix.core import names
from bayesmix.core.predictor import linear_predictor
from bayesmix.core.suffstats import parent_index
from bayesmix.errors import DataError, argument_error, row_list
from bayesmix.fit import Fit
from bayesmix.graph.build import BuiltModel, build_model
from bayesmix.graph.parameterization import resolve_centered
from bayesmix.inference.compiled import CompileCache
from bayesmix.inference.sampling import (
    SamplerSettings,
    check_seed,
    default_tune,
    resolve_adaptation,
    sample,
    warn_convergence,
)
from bayesmix.simulate.draw import simulate_frames, with_placeholder
from bayesmix.simulate.params import true_parameters
from bayesmix.spec.design import make_design
from bayesmix.spec.families import Family, aux_draws, get_family
from bayesmix.spec.formula import parse_formula
from bayesmix.spec.priors import Prior, default_priors

__all__ = ["Model"]


def _crossed(design) -> bool:
    """True when two of the design's grouping factors are crossed (neither nested in the other)."""
    facs = design.factors
    return any(
        parent_index(a, b) is None
        and parent_index(b, a) is None
        and not np.array_equal(a.index, b.index)  # one factor written in two bars
        for i, a in enumerate(facs)
        for b in facs[i + 1 :]
    )


def _weights(data: pd.DataFrame, design, family, column, kind: str) -> dict:
    """The prepared weights of the model's rows, checked (positive, finite), by row."""
    if kind not in ("frequency", "analytic"):
        raise argument_error("weights_kind", kind, "'frequency' or 'analytic'")
    if kind == "analytic" and family.name != "gaussian":
        raise argument_error(
            "weights_kind",
            kind,
            f"'frequency' for the {family.name} family (analytic weights scale a residual SD)",
        )
    if not isinstance(column, str) or column not in data.columns:
        raise argument_error(
            "weights", column, f"the name of a column of the data ({list(data.columns)[:8]})"
        )
    w = data.loc[design.rows, column]
    if not pd.api.types.is_numeric_dtype(w) or pd.api.types.is_bool_dtype(w):
        raise DataError(f"the weights column {column!r} must be numeric; it has dtype {w.dtype}")
    arr = w.to_numpy(dtype=float)
    bad = ~np.isfinite(arr) | (arr <= 0)
    if bad.any():
        raise DataError(
            f"the weights column {column!r} must be positive and finite; not so in {int(bad.sum())} row(s): "
            f"{row_list(design.rows, bad)} (values {list(w[bad].iloc[:5])})"
        )
    return {"weights": arr, "weights_kind": kind}


class Model:
    """A multilevel regression model: formula, data, family and priors.

    Parameters
    ----------
    formula : str
        lme4-style formula, e.g. ``"Reaction ~ Days + (Days | Subject)"``.
    data : pandas.DataFrame
        One row per observation.
    family : str
        ``"gaussian"`` (default), ``"student"``, ``"lognormal"``, ``"gamma"``, ``"beta"``,
        ``"bernoulli"``, ``"binomial"``, ``"poisson"``, ``"negbinomial"`` or
        ``"cumulative"`` (ordinal); see :mod:`bayesmix.spec.families`.
    link : str, optional
        An alternative link where the family has one (``"probit"`` for bernoulli, beta and
        cumulative); otherwise the family's default link.
    level2 : dict, optional
        Level-two formulas per factor and varying coefficient, e.g.
        ``{"county": {"Intercept": "~ log_uranium", "floor": "~ log_uranium"}}``
        (the same model as ``log_radon ~ floor + log_uranium + floor:log_uranium +
        (1 + floor | county)``); see :mod:`bayesmix.level2`.
    group_data : dict, optional
        Group-level DataFrames per factor, keyed by the factor's levels; by default
        level-two columns come from ``data`` (checked constant within groups).
    priors : dict, optional
        Overrides of the default priors, keyed by class (``"b"``, ``"sd"``,
        ``"cor"``, ``"sigma"``, ``"Intercept"``) or parameter (``"b_Days"``,
        ``"sd_Subject__Days"``, ``"cor_Subject"``); values like
        ``"student_t(3, 0, 10)"``.  See :mod:`bayesmix.priors`.
    centered : "auto", bool or dict, default "auto"
        Centred parameterisation of the group effects (all factors, or per
        factor name).  ``"auto"`` centres factors whose groups the data inform well
        (average shrinkage weight >= 0.7 from a quick variance decomposition, see
        :mod:`bayesmix.graph.parameterization`) and leaves the others non-centred.
        Nested intercept-only factors left non-centred have their SDs sampled as the
        total variance and its shares (:mod:`bayesmix.core.shares`; priors unchanged).
    na_action : {"drop", "raise"}
        What to do with rows that have missing values in used columns.
    weights : str, optional
        A column of positive row weights.  Frequency weights (default, any family; brms's
        ``y | weights(w)``, Stata's ``fweight``): each row's log-likelihood counts ``w``
        times, as if the row occurred ``w`` times (non-integer ``w`` allowed).  Analytic
        weights (``weights_kind="analytic"``, Gaussian only; R's ``lm(weights=)``): the row's
        residual variance is ``sigma^2 / w``, for rows that are means of ``w`` observations.
        Weighted models are not collapsed (the group effects are sampled).  Missing weights
        are an error, not dropped.
    weights_kind : {"frequency", "analytic"}
        How ``weights`` are read.

    Examples
    --------
    >>> import bayesmix as bm
    >>> m = bm.Model("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"))
    >>> m.design.factors[0].n_levels
    18
    """

    def __init__(
        self,
        formula: str,
        data: pd.DataFrame,
        family: str | Family = "gaussian",
        priors: Mapping[str, str | Prior] | None = None,
        centered: str | bool | Mapping[str, bool] = "auto",
        na_action: str = "drop",
        link: str | None = None,
        level2: Mapping[str, Mapping[str, str]] | None = None,
        group_data: Mapping[str, pd.DataFrame] | None = None,
        weights: str | None = None,
        weights_kind: str = "frequency",
    ):
        family = get_family(family, link)
        # parse and encode now: a bad formula or bad data should fail at once, not at fit()
        design = make_design(
            parse_formula(formula),
            data,
            na_action=na_action,
            level2=level2,
            group_data=group_data,
            intercept=family.has_intercept,
        )
        response_data = family.prepare(design.y, design.y_other, design.formula.response.kind)
        if weights is not None:
            response_data = response_data | _weights(data, design, family, weights, weights_kind)
        if family.dispersed:
            for f in design.factors:
                if f.n_levels >= design.n_obs:
                    raise DataError(
                        f"grouping factor {f.name!r} has {f.n_levels} levels for {design.n_obs} observations: "
                        f"its effects cannot be told apart from the residual (lme4 refuses this too: the "
                        "number of levels of a grouping factor must be less than the number of observations)"
                    )
        if not (isinstance(centered, str) and centered == "auto"):
            resolve_centered(centered, design)  # a bad value fails here, not at fit()
        overrides = dict(priors or {})
        values = {
            "formula": formula,
            "family": family,
            "centered": centered,
            "na_action": na_action,
            "level2": level2,
            "design": design,
            "response_data": response_data,
            "priors": default_priors(design, family, response_data, overrides),
            "data": data.loc[design.rows, list(design.columns) + ([weights] if weights else [])].copy(),
            "weights": weights,
            "weights_kind": weights_kind,
            "group_data": dict(group_data) if group_data else None,
            "_prior_overrides": overrides,
            "_placeholder": False,
            "_graphs": {},
        }
        for key, value in values.items():
            object.__setattr__(self, key, value)

    @classmethod
    def from_design(
        cls, formula: str, data: pd.DataFrame, family: str | Family = "gaussian", **kwargs
    ) -> Model:
        """A model on a design without a response yet (to simulate from, e.g. :func:`bayesmix.simulate.design`).

        The response column is filled with a stand-in (standard normal for Gaussian
        models, so data-scaled default priors are on a unit scale; give ``priors=`` for
        prior predictive checks on another scale) and replaced by :meth:`simulate`.

        Parameters
        ----------
        formula, data, family, **kwargs
            As for :class:`Model`.
        """
        resp = parse_formula(formula).response
        column = resp.expr.strip().strip("`")
        if column in data.columns:
            raise DataError(f"the design already has a response column {column!r}: use bm.Model(...)")
        fam = get_family(family, kwargs.pop("link", None))
        model = cls(formula, with_placeholder(data, column, fam), family=fam, **kwargs)
        object.__setattr__(model, "_placeholder", True)
        return model

    def simulate(self, params, n: int | None = None, seed: int | None = None):
        """Responses drawn from the model with known parameters, on this model's rows.

        Parameters
        ----------
        params : dict
            True values: population effects, group SDs, correlations, sigma (see
            :mod:`bayesmix.simulate.params` for the two accepted forms).
        n : int, optional
            Number of data sets (default: one, returned as a frame, not a list).
        seed : int, optional
            Seeds the group effects and responses.

        Returns
        -------
        pandas.DataFrame or list of DataFrame
            The model's rows with the response column replaced; ``attrs["params"]``
            holds the true values under brms labels and ``attrs["effects"]`` the group
            effects drawn (factor -> ``(J, k)`` array).
        """
        tp = true_parameters(params, self.design, self.family, self.response_data)
        if n is not None and (not isinstance(n, int) or n < 1):
            raise argument_error("n", n, "a positive integer")
        frames = simulate_frames(
            self.data, self.design, self.family, self.response_data, [tp] * (n or 1), seed
        )
        return frames[0] if n is None else frames

    def prior_predictive(self, draws: int = 500, seed: int | None = None):
        """Draws from the priors and of the response they imply (no data used).

        Parameters
        ----------
        draws : int
            Prior draws.
        seed : int, optional

        Returns
        -------
        xarray.DataTree
            Groups ``prior`` (``b``, ``sd_*``, ``cor_*``, ``r_*``, ``sigma``, as a
            posterior's), ``prior_predictive`` (``y``, dims chain, draw, obs) and, unless
            the model was built :meth:`from_design`, ``observed_data``.
            :func:`bayesmix.plots.plot_prior_predictive` draws it.
        """
        if not isinstance(draws, int) or draws < 1:
            raise argument_error("draws", draws, "a positive integer")
        check_seed(seed)
        log = logging.getLogger("pymc")
        level = log.level
        log.setLevel(logging.WARNING)  # PyMC announces the variables it samples
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = pm.sample_prior_predictive(draws=draws, model=self.built.model, random_seed=seed)
        finally:
            log.setLevel(level)
        prior = tree["prior"].to_dataset()
        prior = prior[[v for v in prior.data_vars if not names.is_internal(str(v))]]
        rows = np.asarray(self.design.rows)
        if "prior_predictive" in tree.children and "obs" in tree["prior_predictive"]:
            obs = tree["prior_predictive"]["obs"]
            values = self.family.observed(self.response_data | {"y": obs.values})
        else:  # frequency weights make the likelihood a Potential: draw the response in numpy
            obs = tree["prior"]
            rng = np.random.default_rng(seed)
            aux = aux_draws(tree["prior"].to_dataset(), self.family, self.response_data)
            eta = linear_predictor(tree["prior"].to_dataset(), self.design)
            data = {k: v for k, v in self.response_data.items() if k != "weights"}
            values = self.family.random(eta, data, rng, aux)
        y = xr.DataArray(
            values,
            dims=("chain", "draw", "obs"),
            coords={"chain": obs["chain"].values, "draw": obs["draw"].values, "obs": rows},
            name="y",
        )
        groups = {"prior": prior, "prior_predictive": xr.Dataset({"y": y})}
        if not getattr(self, "_placeholder", False):
            observed = xr.DataArray(
                self.family.observed(self.response_data), dims=("obs",), coords={"obs": rows}
            )
            groups["observed_data"] = xr.Dataset({"y": observed})
        out = xr.DataTree.from_dict(groups)
        out.attrs["bayesmix_spec"] = json.dumps(self.spec())
        return out

    def __setattr__(self, name, value):
        raise AttributeError(
            f"a Model is immutable (cannot set {name!r}); use with_data() or build a new Model"
        )

    def __getstate__(self):
        # the PyMC graphs are rebuilt on demand: they hold compiled functions that do not pickle
        return {k: v for k, v in self.__dict__.items() if k != "_graphs"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.__dict__["_graphs"] = {}

    def spec(self) -> dict:
        """The model's specification as plain data (formula, family, link, priors given, options).

        What :func:`bayesmix.load` needs, with the data, to rebuild this model.
        """
        return {
            "formula": self.formula,
            "family": self.family.name,
            "link": self.family.link,
            "priors": {k: str(v) for k, v in self._prior_overrides.items()},
            "centered": self.centered,
            "na_action": self.na_action,
            "level2": {f: dict(eqs) for f, eqs in self.level2.items()} if self.level2 else None,
            "weights": self.weights,
            "weights_kind": self.weights_kind,
        }

    def with_data(self, data: pd.DataFrame, group_data: Mapping[str, pd.DataFrame] | None = None) -> Model:
        """The same model (formula, family, priors given, options) on new data.

        Its fit reuses this model's compiled log density when the structure is
        unchanged (same terms and number of groups; numbers, including the
        data-scaled default priors, may differ), so a simulation study or a
        refit to a new sample skips compiling.

        Parameters
        ----------
        data : pandas.DataFrame
        group_data : dict, optional
            Group-level frames for the new data (see the class parameters).

        Examples
        --------
        >>> import bayesmix as bm
        >>> df = bm.datasets.load("sleepstudy")
        >>> m = bm.Model("Reaction ~ Days + (Days | Subject)", df)
        >>> m2 = m.with_data(df.assign(Reaction=df.Reaction * 1.1))
        >>> m2.formula == m.formula
        True
        """
        return Model(
            self.formula,
            data,
            family=self.family,
            priors=self._prior_overrides,
            centered=self.centered,
            na_action=self.na_action,
            level2=self.level2,
            group_data=group_data,
            weights=self.weights,
            weights_kind=self.weights_kind,
        )

    def with_priors(self, priors: Mapping[str, str | Prior]) -> Model:
        """The same model on the same data with other prior overrides (e.g. priors fixed for SBC)."""
        model = Model(
            self.formula,
            self.data,
            family=self.family,
            priors=priors,
            centered=self.centered,
            na_action=self.na_action,
            level2=self.level2,
            group_data=self.group_data,
            weights=self.weights,
            weights_kind=self.weights_kind,
        )
        object.__setattr__(model, "_placeholder", getattr(self, "_placeholder", False))
        return model

    @property
    def built(self) -> BuiltModel:
        """The built PyMC model and its bookkeeping (built on first access)."""
        if "full" not in self._graphs:
            self._graphs["full"] = build_model(
                self.design, self.family, self.response_data, self.priors, self.centered
            )
        return self._graphs["full"]

    @property
    def built_collapsed(self) -> BuiltModel:
        """The model with the group effects integrated out (see :mod:`bayesmix.collapsed`)."""
        ok, why = collapsed.applies(self.design, self.family, self.weights is not None)
        if not ok:
            raise argument_error("collapse", True, f"False or 'auto' for this model: {why}")
        if "collapsed" not in self._graphs:
            self._graphs["collapsed"] = build_model(
                self.design, self.family, self.response_data, self.priors, self.centered, collapse=True
            )
        return self._graphs["collapsed"]

    @property
    def pymc_model(self):
        """The ``pymc.Model`` (built on first access, never sampled here)."""
        return self.built.model

    def _scale_advice(self) -> str | None:
        """Advice to rescale variables on extreme scales (SD below 1e-6 or above 1e6), if any."""
        extreme = []
        if self.family.has_sigma:
            sd = float(np.std(self.response_data["y"]))
            if not 1e-6 <= sd <= 1e6:
                extreme.append(f"the response (SD {sd:.3g})")
        for j, term in enumerate(self.design.terms):
            sd = float(np.std(self.design.X[:, j]))
            if term != "Intercept" and sd > 0 and not 1e-6 <= sd <= 1e6:
                extreme.append(f"{term!r} (SD {sd:.3g})")
        if not extreme:
            return None
        return (
            f"{', '.join(extreme)} on an extreme scale: rescale to SDs near 1 (e.g. multiply by a power of "
            "10); NUTS adapts poorly across many orders of magnitude"
        )

    def __repr__(self) -> str:
        groups = ", ".join(f"{f.name} ({f.n_levels} levels)" for f in self.design.factors) or "none"
        return (
            f"bayesmix.Model({self.formula!r}, family={self.family.name!r})\n"
            f"  {self.design.n_obs} observations; grouping factors: {groups}\n"
            f"  population terms: {', '.join(self.design.terms)}"
        )

    def fit(
        self,
        draws: int = 1000,
        tune: int | None = None,
        chains: int = 4,
        seed: int | None = None,
        target_accept: float | None = None,
        sampler: str = "nutpie",
        cores: int | None = None,
        progressbar: bool = True,
        check: bool = True,
        adaptation: str = "auto",
        collapse: bool | str = "auto",
        on_interrupt: str = "raise",
        cache: CompileCache | None = None,
    ) -> Fit:
        """Sample the posterior with NUTS.

        Parameters
        ----------
        draws, tune, chains : int
            Draws kept per chain, tuning steps per chain, number of chains.  ``tune``
            defaults to 1000 (as brms and PyMC), or 400 with nutpie when the group effects
            are integrated out, where the shorter tuning mixed as well (measurements in
            :func:`~bayesmix.inference.sampling.default_tune`).
        seed : int, optional
            The same seed gives the same draws on the same machine, whether the model
            is compiled afresh or loaded from the compile cache (with nutpie, the
            default sampler, bayesmix compiles without numba's fast-math flags, under
            which the two builds rounded differently in the last bits).
        target_accept : float, optional
            NUTS target acceptance rate; raise it (0.95-0.99) after divergences.  By
            default 0.8 (as brms) when the group effects are integrated out and 0.9
            otherwise, chosen by measurement (4 x 1000 draws): with the group effects
            sampled, sleepstudy at 0.8 gave 1-2 divergent draws in 2 of 5 seeds and none at
            0.9; integrated out, 0.8 gave no divergences on sleepstudy, radon (3 seeds each)
            and InstEval, as good a min bulk ESS, and InstEval sampled in 60 s instead of
            96 s (18 instead of 31 leapfrog steps per draw; at 0.9 it had 2 divergences).
        sampler : {"nutpie", "pymc"}
            NUTS engine.
        cores : int, optional
            Chains run in parallel on this many cores (default: all, at most one per chain).
        progressbar : bool
            Show sampling progress (terminal and notebook).
        adaptation : {"auto", "diag", "draw_diag", "low_rank"}
            nutpie's mass-matrix adaptation (``draw_diag`` is Stan-like; ``low_rank``
            learns the strongest posterior correlations).  ``"auto"``: ``low_rank`` when
            two grouping factors are crossed (neither nested in the other), where the
            intercept trades off against the factors' effect means, and at most
            :data:`~bayesmix.inference.sampling.LOW_RANK_MAX_EFFECTS` group effects are
            sampled (above that its cost per step outweighs its gain); else ``diag``
            (measurements in :func:`bayesmix.inference.sampling.resolve_adaptation`).
        collapse : "auto", bool
            Integrate the group effects out and sample only the population effects,
            SDs, correlations and sigma, then draw the group effects exactly from
            their conditional posterior (Gaussian family: one grouping factor with any
            number of varying coefficients, nested factors with up to two each, crossed
            factors one of them).  ``"auto"``: whenever it applies.
        check : bool
            Warn (:class:`~bayesmix.ConvergenceWarning`) on divergences, R-hat > 1.01
            or bulk ESS < 400 (or undefined).
        on_interrupt : {"raise", "keep"}
            Ctrl-C while sampling: :class:`KeyboardInterrupt` (default), or a fit of the
            complete draws of every chain, marked interrupted (:attr:`Fit.interrupted`),
            with a warning.
        cache : CompileCache, optional
            Where the compiled model is kept and looked up (default: the process's cache).
            Models with one grouping factor and their group effects integrated out need no
            compiled graph: by default they are sampled through one log-density callback
            compiled once per machine (:mod:`bayesmix.inference.native`); given a cache,
            they are compiled through it like any other model.

        Returns
        -------
        Fit
        """
        if not isinstance(check, bool):
            raise argument_error("check", check, "True or False")
        if collapse not in ("auto", True, False):
            raise argument_error("collapse", collapse, "'auto', True or False")
        use = collapse is True or (
            collapse == "auto" and collapsed.applies(self.design, self.family, self.weights is not None)[0]
        )
        if target_accept is None:
            target_accept = 0.8 if use else 0.9
        if tune is None:
            tune = default_tune(sampler, use)
        built = self.built_collapsed if use else self.built
        integrated = set(getattr(built.collapsed, "factors", ())) if use else set()
        sampled = sum(f.n_levels * len(f.coefs) for f in self.design.factors if f.name not in integrated)
        settings = SamplerSettings(
            draws=draws,
            tune=tune,
            chains=chains,
            seed=seed,
            target_accept=target_accept,
            sampler=sampler,
            cores=cores,
            progressbar=progressbar,
            adaptation=resolve_adaptation(adaptation, _crossed(self.design), sampled),
        )
        idata = sample(built, self.design, settings, cache=cache, on_interrupt=on_interrupt)
        what = None
        if use:
            what = (
                f"{built.collapsed.factor} effects (given the other factors')"
                if isinstance(built.collapsed, RowsCollapse)
                else "group effects"
            )
        fit = Fit(self, idata, settings, collapsed=what)
        if check:
            warn_convergence(fit.convergence, stacklevel=3, advice=self._scale_advice())
        return fit
