"""One task of a study, run where the study sends it: simulate a data set, fit it, summarise.

Module-level functions (they are pickled to worker processes and Dask workers).  A task
never raises for a bad fit: the error is recorded, so one failure cannot end a study.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from bayesmix.core import names
from bayesmix.inference.sampling import convergence_report
from bayesmix.post.hypothesis import parameter_draws
from bayesmix.simulate.draw import simulate_frames

__all__ = ["fit_task", "QUANTILES"]

#: quantiles recorded per parameter: the 50% and 95% central intervals
QUANTILES = (0.025, 0.25, 0.75, 0.975)


def fit_task(task: dict) -> dict:
    """Simulate from ``task["params"]`` on ``task["model"]``'s rows, fit, and record the estimates.

    The task holds ``task`` (its position), ``model``, ``params`` (:class:`TrueParameters`),
    ``seed`` (a :class:`numpy.random.SeedSequence`), ``fit`` (keyword arguments of
    :meth:`Model.fit`), ``rule`` (optional callable ``fit -> bool``) and ``cell`` (the
    design cell it belongs to, for power studies).
    """
    t0 = time.perf_counter()
    record = {"task": task["task"], "cell": task.get("cell", {}), "error": None}
    try:
        model, tp = task["model"], task["params"]
        sim_seq, fit_seq = task["seed"].spawn(2)
        design = model.design
        (data,) = simulate_frames(model.data, design, model.family, model.response_data, [tp], sim_seq)
        refit = model.with_data(data)
        fit_seed = int(fit_seq.generate_state(1)[0])
        t_fit = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = refit.fit(**{**task["fit"], "seed": fit_seed, "progressbar": False, "check": False})
        record["fit_seconds"] = time.perf_counter() - t_fit
        record["sampling_seconds"] = float(fit.idata["sample_stats"].attrs.get("sampling_seconds", np.nan))
        # judged on the study's parameters (population effects, SDs, correlations, sigma); the
        # group effects' R-hat and ESS would double a small fit's time outside sampling
        group = {names.r_var(f.name) for f in design.factors}
        conv = convergence_report(fit.idata, var_names=[v for v in fit.posterior.data_vars if v not in group])
        record.update(
            converged=bool(conv["ok"]),
            divergences=int(conv["divergences"]),
            max_rhat=float(conv["max_rhat"]),
            min_ess=float(conv["min_ess_bulk"]),
        )
        truth = tp.labels(design)
        draws = parameter_draws(fit.posterior, refit.design)
        params = {}
        for label, true in truth.items():
            d = draws[label]
            q = np.quantile(d, QUANTILES)
            params[label] = {
                "true": true,
                "mean": float(d.mean()),
                "sd": float(d.std(ddof=1)),
                **{f"q{100 * p:g}": float(v) for p, v in zip(QUANTILES, q, strict=True)},
                "rank": int(np.sum(d < true)),
                "n_draws": int(d.size),
            }
        record["params"] = params
        if task.get("rule") is not None:
            record["decision"] = bool(task["rule"](fit))
        elif task.get("target") is not None:
            p = params[task["target"]]
            record["decision"] = bool(p["q2.5"] > 0 or p["q97.5"] < 0)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # recorded, never dropped: one failure must not end a study
        record["error"] = f"{type(exc).__name__}: {exc}"
    record["seconds"] = time.perf_counter() - t0
    return record
