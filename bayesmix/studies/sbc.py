"""Simulation-based calibration (Talts et al. 2018): does the fit recover draws from its own prior?

Parameters are drawn from the model's priors (PyMC's prior sampling of the model's
graph), a data set is simulated from each draw and fitted with the *same* priors (the
model's resolved priors are fixed, so data-scaled defaults do not move with each
simulated data set), and the rank of the true value among the posterior draws is
recorded.  If the fits are calibrated the ranks are uniform; the summary gives
arviz-stats' uniformity test p-value per parameter on the randomised PIT values
``(rank + U) / (draws + 1)``, and :func:`bayesmix.plots.plot_sbc` draws arviz-plots'
ECDF-difference plot with its simultaneous bands.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import xarray as xr

from bayesmix.errors import argument_error
from bayesmix.simulate.params import from_draws
from bayesmix.studies.recovery import fit_settings
from bayesmix.studies.results import StudyResult, tables_from_records
from bayesmix.studies.runner import run_tasks
from bayesmix.studies.tasks import fit_task

__all__ = ["sbc", "pit_values"]


def pit_values(est: pd.DataFrame, seed: int | None = None) -> xr.Dataset:
    """Randomised PIT values per parameter, dims ``(chain=1, draw=fit)`` (arviz's layout for SBC)."""
    rng = np.random.default_rng(seed)
    data = {}
    for label, sub in est.groupby("parameter", sort=False):
        u = (sub["rank"].to_numpy() + rng.uniform(size=len(sub))) / (sub["n_draws"].to_numpy() + 1)
        data[label] = (("chain", "draw"), u[None, :])
    return xr.Dataset(data)


def sbc(
    model,
    n: int = 200,
    seed: int | None = None,
    draws: int = 250,
    tune: int = 500,
    chains: int = 4,
    workers: int | None = None,
    client=None,
    progress: bool = True,
    **fit_kwargs,
) -> StudyResult:
    """Simulation-based calibration of ``model`` with ``n`` prior draws.

    Parameters as in :func:`bayesmix.studies.recovery` (``draws`` per chain: the ranks
    take values 0..draws*chains).  Returns a :class:`StudyResult` whose ``summary`` has,
    per parameter, the number of fits, the uniformity p-value and the mean PIT, and whose
    ``attrs["pit"]`` holds the PIT values for the plot.
    """
    if not isinstance(n, int) or n < 2:
        raise argument_error("n", n, "an integer >= 2")
    fixed = model.with_priors({key: model.priors[key] for key in model.priors})
    prior_seq, fit_seq, pit_seq = np.random.SeedSequence(seed).spawn(3)
    tree = fixed.prior_predictive(draws=n, seed=int(prior_seq.generate_state(1)[0]))
    prior = tree["prior"].to_dataset()
    settings = fit_settings(draws, tune, chains, workers, client, fit_kwargs)
    tasks = [
        {
            "task": k,
            "model": fixed,
            "params": from_draws(prior, fixed.design, 0, k),
            "seed": s,
            "fit": settings,
        }
        for k, s in enumerate(fit_seq.spawn(n))
    ]
    t0 = time.perf_counter()
    records, interrupted = run_tasks(
        fit_task, tasks, workers=workers, client=client, progress=progress, label="SBC"
    )
    fits, est = tables_from_records(records)
    pit = pit_values(est, int(pit_seq.generate_state(1)[0])) if len(est) else xr.Dataset()
    rows = {}
    if len(est):
        pvals = pit.azstats.uniformity_test()[0]
        for label in pit.data_vars:
            rows[label] = {
                "n_fits": int(pit[label].size),
                "uniformity_p": float(pvals[label]),
                "mean_pit": float(pit[label].mean()),
            }
    summary = pd.DataFrame.from_dict(rows, orient="index")
    summary.index.name = "parameter"
    return StudyResult("sbc", summary, fits, est, interrupted, time.perf_counter() - t0, {"pit": pit})
