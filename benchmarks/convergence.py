"""Issue 15 point 1: do the hard designs pass the package's own convergence check at the defaults?

Fits each design of ``tests/inference/test_convergence_defaults.py`` on ``N`` simulated data sets
(the tests' designs, truths and data seeds; sampling seed ``i`` for data set ``i``), 4 x 1000 draws,
and prints one JSON line per fit and a closing count.  A fit passes when the check users see
holds: max R-hat <= 1.01, min bulk ESS >= 400, no divergences, no stuck chain.

    .venv/bin/python benchmarks/convergence.py logit 10      # crossed logit, 7,500 rows, 300 x 25
    .venv/bin/python benchmarks/convergence.py items 10      # subjects x items, 40 x 30
    .venv/bin/python benchmarks/convergence.py poisson 10    # overdispersed counts, held-out shape
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from inference.test_convergence_defaults import (  # noqa: E402
    CROSSED_LOGIT,
    SUBJ_ITEMS,
    overdispersed_counts,
)

import bayesmix as bm  # noqa: E402


def model_for(case: str, i: int) -> bm.Model:
    """The case's model on data set ``i`` (the tests use i = 0, 1, 2)."""
    if case == "items":
        f = "rt ~ cond + (1 + cond | subj) + (1 | item)"
        design = bm.simulate.design(
            {"subj": 40, "item": 30},
            structure="crossed",
            between={"item": {"cond": np.tile([-0.5, 0.5], 15)}},
            seed=11,
        )
        return bm.Model(f, bm.Model.from_design(f, design).simulate(SUBJ_ITEMS, seed=100 + i))
    if case == "logit":
        f = "y ~ x + (1 + x | subj) + (1 | item)"
        design = bm.simulate.design(
            {"subj": 300, "item": 25}, structure="crossed", within={"x": "normal(0, 1)"}, seed=3
        )
        data = bm.Model.from_design(f, design, family="bernoulli").simulate(CROSSED_LOGIT, seed=200 + i)
        return bm.Model(f, data, family="bernoulli")
    if case == "poisson":
        data = overdispersed_counts(1000 + i)
        return bm.Model("y ~ year + height + (1 | grp) + (1 | loc)", data, family="poisson")
    raise SystemExit(f"unknown case {case!r}: items, logit or poisson")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("case", choices=["items", "logit", "poisson"])
    ap.add_argument("n", type=int, help="number of data sets")
    ap.add_argument("--first", type=int, default=0, help="first data set")
    ap.add_argument("--tune", type=int, default=None, help="tuning steps (default: the package's)")
    args = ap.parse_args()
    passed = 0
    for i in range(args.first, args.first + args.n):
        model = model_for(args.case, i)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", bm.ConvergenceWarning)
            extra = {} if args.tune is None else {"tune": args.tune}
            fit = model.fit(seed=i, progressbar=False, **extra)
        c = fit.convergence
        ok = bool(
            c["ok"]
            and c["divergences"] == 0
            and not c["stuck_chains"]
            and c["max_rhat"] <= 1.01
            and c["min_ess_bulk"] >= 400
        )
        passed += ok
        table = fit.summary()
        print(
            json.dumps(
                {
                    "case": args.case,
                    "data_set": i,
                    "passed": ok,
                    "max_rhat": round(float(c["max_rhat"]), 4),
                    "min_ess_bulk": round(float(c["min_ess_bulk"])),
                    "slowest": str(table["ess_bulk"].idxmin()),
                    "divergences": int(c["divergences"]),
                    "seconds": round(time.perf_counter() - t0, 1),
                }
            ),
            flush=True,
        )
    print(f"{args.case}: {passed} of {args.n} passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
