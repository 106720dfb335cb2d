"""Command line: ``bayesmix fit SPEC.toml [--out DIR]``."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from bayesmix.errors import BayesmixError  # noqa: E402
from bayesmix.inference.sampling import SamplerSettings  # noqa: E402
from bayesmix.model import Model  # noqa: E402
from bayesmix.spec.toml import load_spec  # noqa: E402

__all__ = ["main"]


def _fit(args) -> int:
    t0 = time.perf_counter()
    spec = load_spec(args.spec)
    out = Path(args.out) if args.out else Path("out") / spec.name
    settings = dict(spec.sampler)
    for key in ("draws", "tune", "chains", "seed"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    # everything is checked (spec, data, model, settings) before anything is written
    model = Model(spec.formula, spec.load_data(), **spec.model_kwargs())
    SamplerSettings(**settings)
    print(model)
    print(model.priors)
    print(
        "sampling (a model the precompiled log densities do not cover is compiled first, about half a "
        "minute the first time its structure runs on a machine)"
    )
    fit = model.fit(progressbar=not args.quiet, **settings)
    report = fit.report()
    print(report)
    # written into a side folder first, so an interrupted run leaves nothing that looks finished
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    (partial / "report.txt").write_text(report + "\n")
    fit.summary(ranef=True).to_csv(partial / "summary.csv")
    fit.save(partial / "fit.nc")
    written = ["report.txt", "summary.csv", "fit.nc"]
    kinds = ["trace", "forest"] + (["coef"] if model.design.factors else [])
    for kind in kinds:
        fig = fit.plot(kind)
        fig.savefig(partial / f"{kind}.png", dpi=110)
        plt.close(fig)
        written.append(f"{kind}.png")
    out.mkdir(parents=True, exist_ok=True)
    for name in written:
        os.replace(partial / name, out / name)
    partial.rmdir()
    print(f"\nwrote {', '.join(written)} to {out}/ in {time.perf_counter() - t0:.1f} s")
    print(f"load it with: bayesmix.load({str(out / 'fit.nc')!r})")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``bayesmix`` command."""
    parser = argparse.ArgumentParser(prog="bayesmix", description="Bayesian multilevel regression")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("fit", help="fit a model spec (TOML) and write report, posterior and plots")
    p.add_argument("spec", help="path to a TOML spec, e.g. models/sleepstudy.toml")
    p.add_argument("--out", help="output folder (default: out/<spec name>)")
    p.add_argument("--draws", type=int)
    p.add_argument("--tune", type=int)
    p.add_argument("--chains", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        return _fit(args)
    except BayesmixError as exc:
        print(f"bayesmix: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bayesmix: interrupted; no results written", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
