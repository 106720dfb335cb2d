"""Min bulk ESS and max R-hat after a given number of tuning steps, over seeds (session 16's
comparison behind :func:`bayesmix.inference.sampling.default_tune`).

    .venv/bin/python benchmarks/tuning.py 400 1000                  # the reference models, collapsed
    .venv/bin/python benchmarks/tuning.py 400 1000 --sampled        # their group effects sampled
"""

from __future__ import annotations

import argparse
import warnings

import bayesmix as bm

MODELS = [
    ("sleepstudy", "Reaction ~ Days + (Days | Subject)"),
    ("radon", "log_radon ~ floor + (floor | county)"),
    ("radon", "log_radon ~ floor + log_uranium + (floor | county)"),
    ("radon", "log_radon ~ floor + log_uranium + (1 | county)"),
    ("pastes", "strength ~ 1 + (1 | batch/cask)"),
    ("penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)"),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tune", type=int, nargs="+")
    ap.add_argument("--seeds", type=int, default=4, help="seeds 11, 12, ...")
    ap.add_argument("--sampled", action="store_true", help="collapse=False")
    args = ap.parse_args()
    for data, formula in MODELS:
        model = bm.Model(formula, bm.datasets.load(data))
        for tune in args.tune:
            ess, rhat, div = [], [], 0
            for seed in range(11, 11 + args.seeds):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fit = model.fit(
                        seed=seed, tune=tune, progressbar=False, collapse=not args.sampled and "auto"
                    )
                table = fit.summary(ranef=True)
                ess.append(round(float(table["ess_bulk"].min())))
                rhat.append(float(table["rhat"].max()))
                div += int(fit.idata["sample_stats"]["diverging"].values.sum())
            print(
                f"{data:10s} {formula:50s} tune {tune:5d}: min bulk ESS {min(ess)}-{max(ess)} "
                f"(mean {sum(ess) / len(ess):.0f}), max R-hat {max(rhat):.3f}, divergences {div}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
