"""Run NUTS on a built model and return an ArviZ DataTree of the user-facing variables.

Engines: ``"nutpie"`` (default; Rust NUTS on a numba-compiled log density)
and ``"pymc"`` (PyMC's own NUTS).  Both take the same seed and give the
same draws for the same seed.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass

import numpy as np
import nutpie
import pymc as pm
import xarray as xr

from bayesmix.errors import ConvergenceWarning, SamplingError, argument_error
from bayesmix.graph.build import BuiltModel
from bayesmix.inference.compiled import compile_nutpie
from bayesmix.inference.diagnostics import rhat_and_ess_bulk
from bayesmix.inference.expand import expand_posterior
from bayesmix.spec.design import Design

__all__ = ["SamplerSettings", "sample", "convergence_report"]

SAMPLERS = ("nutpie", "pymc")

ADAPTATIONS = ("diag", "draw_diag", "low_rank")


@dataclass(frozen=True)
class SamplerSettings:
    """Settings of one sampling run (validated on construction)."""

    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    seed: int | None = None
    target_accept: float = 0.9
    sampler: str = "nutpie"
    cores: int | None = None
    progressbar: bool = True
    adaptation: str = "diag"

    def __post_init__(self):
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
        if self.sampler not in SAMPLERS:
            raise argument_error("sampler", self.sampler, f"one of {SAMPLERS}")
        if self.adaptation not in ADAPTATIONS:
            raise argument_error("adaptation", self.adaptation, f"one of {ADAPTATIONS}")
        if self.seed is not None and (not isinstance(self.seed, (int, np.integer)) or self.seed < 0):
            raise argument_error("seed", self.seed, "a non-negative integer or None")

    @property
    def n_cores(self) -> int:
        """Worker count: the machine's cores, at most one per chain."""
        return int(min(self.chains, self.cores or os.cpu_count() or 1))


def sample(built: BuiltModel, design: Design, settings: SamplerSettings):
    """Sample a built model with NUTS.

    Only the free variables are stored by the engine; the reported ones
    (``b``, ``sd_*``, ``cor_*``, ``r_*``) are computed from them afterwards
    by :func:`bayesmix.expand.expand_posterior`, which keeps the compiled
    function small (quicker to compile) and identical across engines.

    Parameters
    ----------
    built : BuiltModel
        From :func:`bayesmix.build.build_model`.
    design : Design
        The model's design.
    settings : SamplerSettings

    Returns
    -------
    xarray.DataTree
        Groups ``posterior`` (reported variables) and ``sample_stats``.
    """
    model = built.model
    keep = built.free_names
    seed = settings.seed if settings.seed is not None else int(np.random.SeedSequence().entropy % 2**31)
    t0 = time.perf_counter()
    t_compiled = t0
    try:
        if settings.sampler == "nutpie":
            compiled = compile_nutpie(model, var_names=keep)
            t_compiled = time.perf_counter()
            idata = nutpie.sample(
                compiled,
                draws=settings.draws,
                tune=settings.tune,
                chains=settings.chains,
                cores=settings.n_cores,
                seed=seed,
                save_warmup=False,
                progress_bar=settings.progressbar,
                target_accept=settings.target_accept,
                adaptation=settings.adaptation,
            )
        else:
            idata = pm.sample(
                draws=settings.draws,
                tune=settings.tune,
                chains=settings.chains,
                cores=settings.n_cores,
                random_seed=seed,
                target_accept=settings.target_accept,
                nuts_sampler="pymc",
                progressbar=settings.progressbar,
                var_names=keep,
                compute_convergence_checks=False,
                model=model,
            )
    except (pm.exceptions.SamplingError, RuntimeError, FloatingPointError) as exc:
        first = str(exc).split("Stack backtrace")[0].strip().replace("\n\nCaused by:\n   ", ":")
        raise SamplingError(
            f"sampling failed ({first}).{_bad_terms(model)} Check the priors (model.priors) and the data "
            "scale: a prior far from the data can make the log density non-finite where sampling starts"
        ) from None
    t_sampled = time.perf_counter()
    post = expand_posterior(idata["posterior"].to_dataset(), design, built, seed=seed)
    stats = idata["sample_stats"].to_dataset()
    keep_stats = [v for v in stats.data_vars if stats[v].dtype != object]
    stats = stats[keep_stats]
    # PyMC's own NUTS compiles inside pm.sample: its compile time is part of sampling_seconds
    stats.attrs.update(
        compile_seconds=t_compiled - t0,
        sampling_seconds=t_sampled - t_compiled,
        expand_seconds=time.perf_counter() - t_sampled,
    )
    return xr.DataTree.from_dict({"posterior": post, "sample_stats": stats})


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


def convergence_report(idata, rhat_max: float = 1.01, ess_min: float = 400.0) -> dict:
    """Divergences, worst R-hat and smallest bulk ESS, and whether they pass.

    Parameters
    ----------
    idata : DataTree
        A fit's draws.
    rhat_max, ess_min : float
        Thresholds (Vehtari et al. 2021 recommend 1.01 and 100 per chain).
    """
    post = idata["posterior"].to_dataset()
    arrays = []
    for v in post.data_vars:
        da = post[v].transpose("chain", "draw", ...)
        arrays.append(np.asarray(da.values, dtype=float).reshape(da.shape[0], da.shape[1], -1))
    draws = np.concatenate(arrays, axis=-1) if arrays else np.zeros((1, 1, 0))
    with warnings.catch_warnings():  # one chain: R-hat is undefined (all NaN), reported as NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        rhat, ess = rhat_and_ess_bulk(draws)  # in blocks of parameters: bounded memory
        worst_rhat = float(np.nanmax(rhat)) if rhat.size and not np.all(np.isnan(rhat)) else np.nan
        min_ess = float(np.nanmin(ess)) if ess.size and not np.all(np.isnan(ess)) else np.nan
    n_div = 0
    if "sample_stats" in idata.children and "diverging" in idata["sample_stats"].data_vars:
        n_div = int(idata["sample_stats"]["diverging"].values.sum())
    n_draws = int(post.sizes["chain"] * post.sizes["draw"])
    return {
        "divergences": n_div,
        "draws": n_draws,
        "max_rhat": worst_rhat,
        "min_ess_bulk": min_ess,
        "ok": n_div == 0 and worst_rhat <= rhat_max and min_ess >= ess_min,
        "rhat_max": rhat_max,
        "ess_min": ess_min,
    }


def warn_convergence(report: dict, stacklevel: int = 3) -> None:
    """Issue a :class:`ConvergenceWarning` with counts and advice when a check fails."""
    problems = []
    if report["divergences"]:
        problems.append(
            f"{report['divergences']} of {report['draws']} draws diverged: raise target_accept "
            "(e.g. fit(target_accept=0.95)) or, for factors with few informative rows per group, "
            "try the other parameterisation (centered=True/False)"
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
    if problems:
        warnings.warn("; ".join(problems), ConvergenceWarning, stacklevel=stacklevel)
