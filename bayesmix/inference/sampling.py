"""Run NUTS on a built model and return an ArviZ DataTree of the user-facing variables.

Engines (:mod:`bayesmix.inference.engines`): ``"nutpie"`` (default; Rust NUTS on a
numba-compiled log density) and ``"pymc"`` (PyMC's own NUTS).  This module validates
the settings, runs the engine, decides what an interrupted run becomes, expands the
raw draws (:mod:`bayesmix.inference.expand`) and checks convergence.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pymc as pm
import xarray as xr

from bayesmix.core import names
from bayesmix.errors import ConvergenceWarning, SamplingError, argument_error
from bayesmix.graph.build import BuiltModel
from bayesmix.inference.compiled import CompileCache
from bayesmix.inference.diagnostics import rhat_and_ess_bulk
from bayesmix.inference.engines import EngineRun, Interrupted, get_engine
from bayesmix.inference.expand import expand_posterior
from bayesmix.inference.native import program as native_program
from bayesmix.spec.design import Design

__all__ = ["SamplerSettings", "sample", "convergence_report", "check_seed", "stuck_chains", "default_tune"]

SAMPLERS = ("nutpie", "pymc")

#: tuning steps per chain when a fit does not say (:func:`default_tune`): brms's and PyMC's
DEFAULT_TUNE = 1000
#: ... with nutpie when the group effects are integrated out: there nutpie's own default mixed as
#: well as 1000 steps on the reference models and InstEval, while sampled group effects (funnels)
#: lost bulk ESS with it (``benchmarks/README.md``, session 16)
COLLAPSED_TUNE = 400


def default_tune(sampler: str, collapsed: bool) -> int:
    """Tuning steps per chain when the user gives none: :data:`COLLAPSED_TUNE` for nutpie on a
    model whose group effects are integrated out, else :data:`DEFAULT_TUNE` (brms's and PyMC's
    1000)."""
    return COLLAPSED_TUNE if collapsed and sampler == "nutpie" else DEFAULT_TUNE


ADAPTATIONS = ("diag", "draw_diag", "low_rank")


#: ``adaptation="auto"`` uses ``low_rank`` for crossed designs with at most this many sampled
#: group effects (see :func:`resolve_adaptation`)
LOW_RANK_MAX_EFFECTS = 200


def resolve_adaptation(adaptation: str, crossed: bool, sampled_effects: int) -> str:
    """nutpie's mass-matrix adaptation for ``adaptation="auto"``.

    With crossed factors the intercept and the factors' effect means trade off along a
    direction that a diagonal mass matrix cannot learn and nutpie's low-rank adaptation
    learns; but its cost per leapfrog step grows with the number of sampled parameters.
    Measured (4 chains, this project's 2-core machine):

    - 40 subjects x 30 items, ``rt ~ cond + (1 + cond | subj) + (1 | item)`` (30 sampled
      effects; subjects integrated out), 4 x 1000 draws over 10 simulated data sets: ``diag``
      passed the convergence check in 2 of 10 (the intercept's bulk ESS 226-710),
      ``low_rank`` in 10 of 10 (min bulk ESS 1,212-4,796), in the same time (1.3-2 s);
    - a crossed logit, 7,500 rows, 300 subjects (intercept and slope) x 25 items (625
      sampled effects): ``diag`` 39 s, min bulk ESS 275; ``low_rank`` 190 s, 311;
    - InstEval crossed (4,100 sampled effects), 4 x 300 draws: ``diag`` 23 s, ``low_rank``
      55 s at the same ESS and steps per draw.

    Hence ``low_rank`` for crossed designs with at most :data:`LOW_RANK_MAX_EFFECTS`
    sampled group effects, ``diag`` otherwise.
    """
    if adaptation == "auto":
        return "low_rank" if crossed and sampled_effects <= LOW_RANK_MAX_EFFECTS else "diag"
    if adaptation not in ADAPTATIONS:
        raise argument_error("adaptation", adaptation, f"'auto' or one of {ADAPTATIONS}")
    return adaptation


def check_seed(seed) -> None:
    """A seed is None or an integer from 0 to 2**32 - 1 (what every engine accepts)."""
    if seed is not None and (
        not isinstance(seed, int | np.integer) or isinstance(seed, bool) or not 0 <= seed < 2**32
    ):
        raise argument_error("seed", seed, "None or an integer from 0 to 2**32 - 1")


@dataclass(frozen=True)
class SamplerSettings:
    """Settings of one sampling run (validated on construction)."""

    draws: int = 1000
    tune: int = DEFAULT_TUNE
    chains: int = 4
    seed: int | None = None
    target_accept: float = 0.9
    sampler: str = "nutpie"
    cores: int | None = None
    progressbar: bool = True
    adaptation: str = "diag"

    def __post_init__(self):
        if self.sampler not in SAMPLERS:
            raise argument_error("sampler", self.sampler, f"one of {SAMPLERS}")
        for name in ("draws", "tune", "chains"):
            v = getattr(self, name)
            if (
                not isinstance(v, (int, np.integer))
                or isinstance(v, bool)
                or v < (1 if name != "tune" else 0)
            ):
                raise argument_error(name, v, "a positive integer" if name != "tune" else "an integer >= 0")
        if not (isinstance(self.target_accept, float | int) and 0 < self.target_accept < 1):
            raise argument_error("target_accept", self.target_accept, "a number strictly between 0 and 1")
        check_seed(self.seed)
        if self.adaptation not in ADAPTATIONS:
            raise argument_error("adaptation", self.adaptation, f"'auto' or one of {ADAPTATIONS}")
        if self.seed is not None and (not isinstance(self.seed, (int, np.integer)) or self.seed < 0):
            raise argument_error("seed", self.seed, "a non-negative integer or None")

    def as_dict(self) -> dict:
        """The settings as plain data (what a saved fit records)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @property
    def n_cores(self) -> int:
        """Worker count: the machine's cores, at most one per chain."""
        return int(min(self.chains, self.cores or os.cpu_count() or 1))


def sample(
    built: BuiltModel,
    design: Design,
    settings: SamplerSettings,
    cache: CompileCache | None = None,
    on_interrupt: str = "raise",
):
    """Sample a built model with NUTS: engine -> raw draws -> reported quantities.

    Only the free variables are stored by the engine; the reported ones
    (``b``, ``sd_*``, ``cor_*``, ``r_*``) are computed from them afterwards
    by :func:`bayesmix.inference.expand.expand_posterior`, which keeps the compiled
    function small (quicker to compile) and identical across engines.

    Parameters
    ----------
    built : BuiltModel
        From :func:`bayesmix.graph.build.build_model`.
    design : Design
        The model's design.
    settings : SamplerSettings
    cache : CompileCache, optional
        Where nutpie's compiled models are kept (default: the process's cache).
    on_interrupt : {"raise", "keep"}
        Ctrl-C during sampling: re-raise :class:`KeyboardInterrupt` (default), or keep
        the complete draws of every chain (trimmed to the shortest chain, no NaN
        padding), with ``posterior.attrs["interrupted"]`` set and a warning.

    Returns
    -------
    xarray.DataTree
        Groups ``posterior`` (reported variables) and ``sample_stats``.
    """
    if on_interrupt not in ("raise", "keep"):
        raise argument_error("on_interrupt", on_interrupt, "'raise' or 'keep'")
    model = built.model
    seed = settings.seed if settings.seed is not None else int(np.random.SeedSequence().entropy % 2**31)
    engine = get_engine(settings.sampler, cache)
    interrupted = None
    try:
        prog = native_program(built, design, built.free_names) if engine.name == "nutpie" else None
        run = engine.run(model, built.free_names, settings, seed, native=prog)
        raw = run.idata
    except SamplingError as exc:
        raise SamplingError(
            f"{exc}{_bad_terms(model)} Check the priors (model.priors) and the data "
            "scale: a prior far from the data can make the log density non-finite where sampling starts"
        ) from None
    except Interrupted as stop:
        kept = _complete_draws(stop.partial) if stop.partial is not None else None
        if on_interrupt == "raise" or kept is None:
            what = "" if kept is None else f" ({kept[1]} complete draws per chain were discarded)"
            raise KeyboardInterrupt(f"sampling interrupted{what}; nothing was returned") from None
        raw, interrupted = kept
        run = EngineRun(raw, 0.0, 0.0)
        warnings.warn(
            f"sampling was interrupted: the fit keeps {interrupted} complete draws per chain of the "
            f"{settings.draws} asked for ({raw['posterior'].sizes['chain']} of {settings.chains} chains); "
            "it is marked interrupted and is not a finished posterior",
            ConvergenceWarning,
            stacklevel=3,
        )
    t_sampled = time.perf_counter()
    post = expand_posterior(raw["posterior"].to_dataset(), design, built, seed=seed)
    stats = raw["sample_stats"].to_dataset()
    stats = stats[[v for v in stats.data_vars if stats[v].dtype != object]]
    # PyMC's own NUTS compiles inside pm.sample: its compile time is part of sampling_seconds
    stats.attrs.update(
        compile_seconds=run.compile_seconds,
        sampling_seconds=run.sampling_seconds,
        expand_seconds=time.perf_counter() - t_sampled,
    )
    if interrupted is not None:
        post.attrs["interrupted"] = 1
        post.attrs["draws_per_chain"] = interrupted
    return xr.DataTree.from_dict({"posterior": post, "sample_stats": stats})


def _complete_draws(idata) -> tuple[object, int] | None:
    """The complete draws of an interrupted run, or None if there are none.

    Engines pad unfinished chains with NaN (and chains not yet started are all NaN):
    the chains with any complete draw are kept, trimmed to the shortest of them.
    """
    if "posterior" not in idata.children:
        return None
    post = idata["posterior"].to_dataset()
    finite = None
    for v in post.data_vars:
        ok = np.isfinite(post[v].values.reshape(post.sizes["chain"], post.sizes["draw"], -1)).all(axis=-1)
        finite = ok if finite is None else finite & ok
    if finite is None:
        return None
    # complete draws per chain: the draws before its first incomplete one
    counts = np.where(finite.all(axis=1), finite.shape[1], np.argmin(finite, axis=1))
    chains = np.flatnonzero(counts > 0)
    if chains.size == 0:
        return None
    n = int(counts[chains].min())
    trimmed = {
        g: idata[g].to_dataset().isel(chain=chains, draw=slice(0, n))
        for g in ("posterior", "sample_stats")
        if g in idata.children
    }
    for ds in trimmed.values():
        ds.coords["chain"] = np.arange(chains.size)
    return xr.DataTree.from_dict(trimmed), n


def _bad_terms(model: pm.Model) -> str:
    """Name the model terms whose log density is not finite at the starting point, and the
    parameters that start at extreme values (a prior scale of 1e-300, say)."""
    try:
        logps = model.point_logps()
        start = model.initial_point()
    except Exception:  # noqa: BLE001 - a diagnostic only; the sampling error is what is raised
        return ""
    labels = {
        "collapsed_loglik": "the likelihood (group effects integrated out)",
        "obs": "the likelihood (obs)",
    }
    bad = [labels.get(name, name) for name, v in logps.items() if not np.isfinite(v)]
    extreme = []
    for name, v in start.items():
        v = np.asarray(v, dtype=float)
        if name.endswith("_log__") and np.any(np.abs(v) > 50):
            extreme.append(
                f"{name[: -len('_log__')]} starts at {float(np.exp(v.flat[np.argmax(np.abs(v))])):.3g}"
            )
        elif not name.endswith("__") and np.any(np.abs(v) > 1e50):
            extreme.append(f"{name} starts at {float(v.flat[np.argmax(np.abs(v))]):.3g}")
    out = f" Non-finite at the starting point: {', '.join(bad)}." if bad else ""
    if extreme:
        out += f" Extreme starting values (from the priors): {'; '.join(extreme)}."
    return out


def convergence_report(idata, rhat_max: float = 1.01, ess_min: float = 400.0, var_names=None) -> dict:
    """Divergences, worst R-hat and smallest bulk ESS, and whether they pass.

    Parameters
    ----------
    idata : DataTree
        A fit's draws.
    rhat_max, ess_min : float
        Thresholds (Vehtari et al. 2021 recommend 1.01 and 100 per chain).
    var_names : list of str, optional
        Judge R-hat and ESS on these variables only (default: all).
    """
    post = idata["posterior"].to_dataset()
    arrays = []
    for v in post.data_vars if var_names is None else var_names:
        da = post[v].transpose("chain", "draw", ...)
        arrays.append(np.asarray(da.values, dtype=float).reshape(da.shape[0], da.shape[1], -1))
    draws = np.concatenate(arrays, axis=-1) if arrays else np.zeros((1, 1, 0))
    with warnings.catch_warnings():  # one chain: R-hat is undefined (all NaN), reported as NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        rhat, ess = rhat_and_ess_bulk(draws)  # in blocks of parameters: bounded memory
        worst_rhat = float(np.nanmax(rhat)) if rhat.size and not np.all(np.isnan(rhat)) else np.nan
        min_ess = float(np.nanmin(ess)) if ess.size and not np.all(np.isnan(ess)) else np.nan
    n_div = 0
    div_share = np.zeros(draws.shape[0])
    if "sample_stats" in idata.children and "diverging" in idata["sample_stats"].data_vars:
        div = np.asarray(idata["sample_stats"]["diverging"].values, dtype=bool)
        n_div = int(div.sum())
        div_share = div.reshape(div.shape[0], -1).mean(axis=1)
        if div_share.shape[0] != draws.shape[0]:  # statistics of other chains than the draws kept
            div_share = np.zeros(draws.shape[0])
    # repeats are judged on the sampled quantities: integrated-out group effects are drawn
    # afresh for every draw, so they move even when the chain does not
    hyper = [
        np.asarray(post[v].transpose("chain", "draw", ...).values, dtype=float).reshape(
            draws.shape[0], draws.shape[1], -1
        )
        for v in post.data_vars
        if not str(v).startswith(names.r_var(""))
    ]
    stuck = stuck_chains(np.concatenate(hyper, axis=-1) if hyper else draws, div_share)
    n_draws = int(post.sizes["chain"] * post.sizes["draw"])
    return {
        "divergences": n_div,
        "draws": n_draws,
        "max_rhat": worst_rhat,
        "min_ess_bulk": min_ess,
        "stuck_chains": stuck,
        "ok": n_div == 0 and worst_rhat <= rhat_max and min_ess >= ess_min and not stuck,
        "rhat_max": rhat_max,
        "ess_min": ess_min,
    }


#: a chain is stuck when at least this share of its draws diverged or repeat the previous draw
STUCK_SHARE = 0.5


def stuck_chains(draws: np.ndarray, divergent_share: np.ndarray) -> list[int]:
    """Chains that did not explore: most draws divergent, or most draws equal to the one before.

    A healthy NUTS chain moves on almost every draw and diverges rarely; a chain caught in a
    region it cannot leave (a funnel's neck, an overflowing ``exp``) repeats its position or
    diverges on most draws.  Its draws are not from the posterior, whatever R-hat says.

    Parameters
    ----------
    draws : ndarray, shape (chain, draw, n)
    divergent_share : ndarray, shape (chain,)
    """
    out = []
    for c in range(draws.shape[0]):
        x = draws[c]
        repeats = float(np.all(x[1:] == x[:-1], axis=-1).mean()) if x.shape[0] > 1 and x.shape[-1] else 0.0
        if divergent_share[c] >= STUCK_SHARE or repeats >= STUCK_SHARE:
            out.append(c)
    return out


def warn_convergence(report: dict, stacklevel: int = 3, advice: str | None = None) -> None:
    """Issue a :class:`ConvergenceWarning` with counts and advice when a check fails.

    ``advice`` (e.g. to rescale a variable on an extreme scale) is appended when a check fails.
    """
    problems = []
    if report.get("stuck_chains"):
        problems.append(
            f"chain(s) {report['stuck_chains']} are STUCK (most of their draws diverged or did not move): "
            "their draws are not from the posterior and every summary mixes them in -- do not use this fit. "
            "Refit with more tuning (tune=2000) and target_accept=0.95, the other parameterisation "
            "(centered=True/False), or sampler='pymc'"
        )
    if report["divergences"]:
        problems.append(
            f"{report['divergences']} of {report['draws']} draws diverged: raise target_accept "
            "(e.g. fit(target_accept=0.95)) or, for factors with few informative rows per group, "
            "try the other parameterisation (centered=True/False)"
        )
    if np.isnan(report["max_rhat"]) or np.isnan(report["min_ess_bulk"]):
        problems.append(
            "R-hat or ESS is undefined (NaN): a chain is constant, holds NaN draws or there is a single "
            "chain; these draws cannot be checked, so do not trust them"
        )
    if report["max_rhat"] > report["rhat_max"]:
        problems.append(
            f"max R-hat is {report['max_rhat']:.3f} (> {report['rhat_max']}): chains disagree; "
            "run more tuning and draws, or check the model for weakly identified parameters"
        )
    if report["min_ess_bulk"] < report["ess_min"]:
        problems.append(
            f"min bulk ESS is {report['min_ess_bulk']:.0f} (< {report['ess_min']:.0f}): "
            "posterior summaries are noisy; draw more (draws=...) or reparameterise"
        )
    if problems and advice:
        problems.append(advice)
    if problems:
        warnings.warn("; ".join(problems), ConvergenceWarning, stacklevel=stacklevel)
