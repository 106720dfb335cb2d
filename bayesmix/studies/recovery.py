"""Parameter recovery: many data sets from known parameters, one fit each, and how well it did.

Per parameter: bias (with its Monte Carlo SE), RMSE, the coverage of the 50% and 95%
central intervals (with binomial SEs: over 100 fits a well-calibrated 95% interval
covers 95 +- 2.2%), and the share of fits with a convergence warning.
"""

from __future__ import annotations

import time

import numpy as np

from bayesmix.errors import argument_error
from bayesmix.simulate.params import true_parameters
from bayesmix.studies.results import StudyResult, recovery_summary, tables_from_records
from bayesmix.studies.runner import cores_per_task, run_tasks
from bayesmix.studies.tasks import fit_task

__all__ = ["recovery", "fit_settings"]


def fit_settings(draws: int, tune: int | None, chains: int, workers, client, fit_kwargs: dict) -> dict:
    """The keyword arguments every fit of a study gets (cores shared between local workers);
    ``tune=None``: the sampler's default, as :meth:`bayesmix.Model.fit`."""
    for name, v in (("draws", draws), ("tune", tune), ("chains", chains)):
        if name == "tune" and v is None:
            continue
        if not isinstance(v, int) or isinstance(v, bool) or v < (0 if name == "tune" else 1):
            raise argument_error(name, v, "an integer >= 0" if name == "tune" else "a positive integer")
    bad = set(fit_kwargs) & {"seed", "progressbar", "check", "cores"}
    if bad:
        raise argument_error(
            sorted(bad)[0], fit_kwargs[sorted(bad)[0]], "left to the study (seeds are spawned per fit)"
        )
    return {
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "cores": cores_per_task(workers, client),
        **fit_kwargs,
    }


def recovery(
    model,
    params,
    n: int = 100,
    seed: int | None = None,
    draws: int = 1000,
    tune: int | None = None,
    chains: int = 4,
    workers: int | None = None,
    client=None,
    progress: bool = True,
    **fit_kwargs,
) -> StudyResult:
    """Simulate ``n`` data sets from ``params`` on ``model``'s rows, fit each, and summarise.

    Parameters
    ----------
    model : Model
        The model to simulate from and fit (e.g. ``bm.Model.from_design(formula, design)``).
    params : dict
        True values (see :mod:`bayesmix.simulate.params`).
    n : int
        Number of data sets.
    seed : int, optional
        The study's seed: each data set and fit gets its own, spawned from it, so the
        table is the same whatever runs it.
    draws, tune, chains : int
        Per fit; ``tune=None`` is :meth:`bayesmix.Model.fit`'s default (400 or 1000 steps).
    workers : int, optional
        Local worker processes (default one per core; 1 runs in this process).  They are
        spawned and import the main module: a script runs its study under
        ``if __name__ == "__main__":`` (a notebook needs nothing).
    client : dask.distributed.Client, optional
        Run on a Dask cluster instead.
    progress : bool
        One progress line for the whole study.
    **fit_kwargs
        Passed to :meth:`Model.fit` (``collapse``, ``target_accept``, ...).

    Returns
    -------
    StudyResult
        ``summary`` per parameter (true, mean_estimate, bias, bias_se, rmse,
        coverage50/95 with SEs, share_warned, n_fits).
    """
    if not isinstance(n, int) or n < 1:
        raise argument_error("n", n, "a positive integer")
    tp = true_parameters(params, model.design, model.family, model.response_data)
    settings = fit_settings(draws, tune, chains, workers, client, fit_kwargs)
    seeds = np.random.SeedSequence(seed).spawn(n)
    tasks = [
        {"task": k, "model": model, "params": tp, "seed": s, "fit": settings} for k, s in enumerate(seeds)
    ]
    t0 = time.perf_counter()
    records, interrupted = run_tasks(
        fit_task, tasks, workers=workers, client=client, progress=progress, label="recovery"
    )
    fits, est = tables_from_records(records)
    return StudyResult(
        "recovery", recovery_summary(fits, est), fits, est, interrupted, time.perf_counter() - t0, {"n": n}
    )
