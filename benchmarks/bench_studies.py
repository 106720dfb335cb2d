"""Benchmark simulation studies; write benchmarks/RESULTS_studies.md.

    .venv/bin/python benchmarks/bench_studies.py            # all rows
    .venv/bin/python benchmarks/bench_studies.py --quick    # 20 data sets instead of 100, SBC 50

Rows, each in this one process after a warm-up fit (warm compile cache, as the targets say):

* ``loop``: the hand-written baseline -- ``model.with_data(sim).fit(...)`` for each data set;
* ``recovery, in-process``: ``bm.studies.recovery(..., workers=1)`` on the same data sets;
* ``recovery, pool of 2``: the same study in a local process pool of 2 workers;
* ``recovery, LocalCluster of 2``: the same study on a Dask LocalCluster of 2 worker processes;
* ``sbc``: a small model (``y ~ 1 + (1 | g)``, 8 groups x 6 rows), 200 prior draws, 4 x 250 draws.

The walk-through's random-intercept model: 100 clusters x 10 rows, intercept 3, slope 0.75,
tau 0.5, sigma 1; 4 chains x 1000 draws after 1000 tuning steps.  Per-data-set overhead is a
task's wall time minus nutpie's sampling time (simulating, building the model on the new data and its
graph, reusing the compiled function, expanding draws, diagnostics, summarising).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np

import bayesmix as bm

HERE = Path(__file__).resolve().parent
PARAMS = {"b": {"Intercept": 3.0, "x": 0.75}, "sd": {"cluster": 0.5}, "sigma": 1.0}
FIT = dict(draws=1000, tune=1000, chains=4)


def walkthrough_model():
    df = bm.simulate.design({"cluster": 100}, rows=10, within={"x": "normal(0, 1)"}, seed=1)
    return bm.Model.from_design("y ~ x + (1 | cluster)", df)


def loop(model, n: int) -> dict:
    sims = model.simulate(PARAMS, n=n, seed=1)
    t0 = time.perf_counter()
    for k, df in enumerate(sims):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.with_data(df).fit(**FIT, seed=k, progressbar=False, check=False)
    return {"seconds": time.perf_counter() - t0}


def study(model, n: int, **kw) -> dict:
    r = bm.studies.recovery(model, PARAMS, n=n, seed=1, progress=False, **FIT, **kw)
    over = (r.fits["seconds"] - r.fits["sampling_seconds"]).to_numpy()  # everything but NUTS itself
    return {
        "seconds": r.seconds,
        "overhead_median": float(np.median(over)),
        "overhead_mean": float(np.mean(over)),
        "failed": int(r.fits["error"].notna().sum()),
        "coverage95_min": float(r.summary["coverage95"].min()),
    }


def sbc(n: int) -> dict:
    df = bm.simulate.design({"g": 8}, rows=6, seed=2)
    model = bm.Model.from_design(
        "y ~ 1 + (1 | g)",
        df,
        priors={"Intercept": "normal(0, 1)", "sd": "half_normal(1)", "sigma": "half_normal(1)"},
    )
    r = bm.studies.sbc(model, n=n, seed=4, draws=250, tune=500, chains=4, workers=1, progress=False)
    return {"seconds": r.seconds, "min_uniformity_p": float(r.summary["uniformity_p"].min())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(HERE / "RESULTS_studies.md"))
    args = ap.parse_args()
    n = 20 if args.quick else 100
    model = walkthrough_model()
    # warm-up: compile (or load from the disk cache) once in this process
    study(model, 1, workers=1)
    rows = {"loop": loop(model, n)}
    rows["recovery, in-process"] = study(model, n, workers=1)
    rows["recovery, pool of 2"] = study(model, n, workers=2)
    from distributed import Client, LocalCluster

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl:
            with Client(cl) as client:
                rows["recovery, LocalCluster of 2"] = study(model, n, client=client)
    rows["sbc"] = sbc(50 if args.quick else 200)
    base = rows["loop"]["seconds"]
    lines = [
        "# Simulation-study benchmark",
        "",
        f"`.venv/bin/python benchmarks/bench_studies.py{' --quick' if args.quick else ''}` on "
        f"{platform.machine()} ({__import__('os').cpu_count()} cores), {time.strftime('%Y-%m-%d')}; "
        f"{n} data sets of 100 clusters x 10 rows, 4 x 1000 draws, warm compile cache.",
        "",
        "| row | wall s | vs hand loop | outside sampling per data set (median / mean s) | failed | min 95% coverage |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        if name == "sbc":
            continue
        over = f"{r['overhead_median']:.3f} / {r['overhead_mean']:.3f}" if "overhead_median" in r else "-"
        cov = f"{r['coverage95_min']:.2f}" if "coverage95_min" in r else "-"
        lines.append(
            f"| {name} | {r['seconds']:.1f} | {r['seconds'] / base:.2f}x | {over} | {r.get('failed', '-')} | {cov} |"
        )
    s = rows["sbc"]
    lines += [
        "",
        f"SBC, `y ~ 1 + (1 | g)` (8 x 6 rows), {50 if args.quick else 200} prior draws, 4 x 250 draws, in-process: "
        f"{s['seconds']:.1f} s (min uniformity p {s['min_uniformity_p']:.2f}).",
        "",
        "Targets (issue 14): recovery of 100 data sets <= 60 s; overhead per data set <= 0.1 s; SBC of 200 "
        "draws <= 180 s; LocalCluster of 2 no slower than the pool of 2.",
        "",
        "```json",
        json.dumps(rows, indent=1),
        "```",
    ]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
