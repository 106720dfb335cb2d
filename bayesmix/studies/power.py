"""Power and design analysis: how often a decision rule holds, over a grid of designs and effects.

For every cell of the grid (e.g. numbers of groups x rows per group x effect sizes),
``n`` data sets are simulated and fitted; power is the share of fits for which the rule
holds -- by default that the 95% central interval of the ``target`` parameter excludes
zero -- with its binomial Monte Carlo SE.  Grid keys that are parameter labels
(``b_x``) set that parameter; the others are passed to the ``design`` callable, which
returns the rows to simulate on (:func:`bayesmix.simulate.design`, or
:func:`bayesmix.simulate.extend` to grow a fitted model's data).
"""

from __future__ import annotations

import itertools
import pickle
import time
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from bayesmix.errors import ArgumentError, argument_error
from bayesmix.simulate.params import true_parameters
from bayesmix.studies.recovery import fit_settings
from bayesmix.studies.results import StudyResult, binomial_se, tables_from_records
from bayesmix.studies.runner import run_tasks
from bayesmix.studies.tasks import fit_task

__all__ = ["power"]


def power(
    make_model: Callable[..., object],
    params: Mapping,
    grid: Mapping[str, list],
    target: str | None = None,
    rule: Callable | None = None,
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
    """Power of a decision rule over a grid of designs and parameter values.

    Parameters
    ----------
    make_model : callable
        ``make_model(**design_keys) -> Model``: the model on one cell's design, e.g.
        ``lambda groups: bm.Model.from_design("y ~ x + (1 | g)", bm.simulate.design({"g": groups},
        rows=10, within={"x": "normal(0, 1)"}, seed=1))``.
    params : dict
        True values in brms labels (``{"b_Intercept": 0, "b_x": 0.3, "sd_g__Intercept": 0.5,
        "sigma": 1}``); grid keys that are labels override them.
    grid : dict
        Key -> values; the study runs every combination.
    target : str, optional
        The parameter whose 95% interval must exclude 0 (the default rule).
    rule : callable, optional
        ``rule(fit) -> bool`` instead (a module-level function when the study runs in
        worker processes).
    n : int
        Data sets per cell.
    seed, draws, tune, chains, workers, client, progress, **fit_kwargs
        As for :func:`bayesmix.studies.recovery`.

    Returns
    -------
    StudyResult
        ``summary``: one row per cell with ``power``, ``power_se``, ``n_fits``,
        ``n_failed`` and ``share_warned``.
    """
    if (
        not isinstance(grid, Mapping)
        or not grid
        or not all(isinstance(v, list | tuple) and v for v in grid.values())
    ):
        raise argument_error("grid", grid, "a dict of names to non-empty lists of values")
    if (target is None) == (rule is None):
        raise ArgumentError("power() needs exactly one of target= (a parameter label) or rule= (fit -> bool)")
    if rule is not None and (workers != 1 or client is not None):
        try:
            pickle.dumps(rule)
        except Exception:
            raise ArgumentError(
                "rule= must be a module-level function to be sent to worker processes "
                "(define it with def at the top of a module), or run the study with workers=1"
            ) from None
    if not isinstance(n, int) or n < 1:
        raise argument_error("n", n, "a positive integer")
    settings = fit_settings(draws, tune, chains, workers, client, fit_kwargs)
    keys = list(grid)
    cells = [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]
    seeds = np.random.SeedSequence(seed).spawn(len(cells))
    tasks = []
    for c, (cell, cell_seq) in enumerate(zip(cells, seeds, strict=True)):
        model = make_model(**{k: v for k, v in cell.items() if k not in params})
        labels = dict(params) | {k: v for k, v in cell.items() if k in params}
        tp = true_parameters(labels, model.design, model.family, model.response_data)
        if target is not None and target not in tp.labels(model.design):
            raise argument_error(
                "target", target, f"a parameter of the model: {sorted(tp.labels(model.design))}"
            )
        for s in cell_seq.spawn(n):
            tasks.append(
                {
                    "task": len(tasks),
                    "cell": {"cell": c, **cell},
                    "model": model,
                    "params": tp,
                    "seed": s,
                    "fit": settings,
                    "target": target,
                    "rule": rule,
                }
            )
    t0 = time.perf_counter()
    records, interrupted = run_tasks(
        fit_task, tasks, workers=workers, client=client, progress=progress, label="power"
    )
    fits, est = tables_from_records(records)
    rows = []
    for c, cell in enumerate(cells):
        sub = fits[fits["cell"] == c] if len(fits) else fits
        ok = sub[sub["error"].isna()] if len(sub) else sub
        p = float(ok["decision"].astype(bool).mean()) if len(ok) else np.nan
        rows.append(
            {
                **cell,
                "power": p,
                "power_se": binomial_se(p, len(ok)),
                "n_fits": len(ok),
                "n_failed": len(sub) - len(ok),
                "share_warned": float((~ok["converged"].astype(bool)).mean()) if len(ok) else np.nan,
            }
        )
    summary = pd.DataFrame(rows)
    return StudyResult(
        "power",
        summary,
        fits,
        est,
        interrupted,
        time.perf_counter() - t0,
        {"grid": dict(grid), "target": target},
    )
