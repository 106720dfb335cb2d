"""Issue 15 point 1: do the hard designs pass the package's own convergence check at the defaults?

Fits each design of ``tests/inference/test_convergence_defaults.py`` on ``N`` simulated data sets
(the tests' designs, truths and data seeds; sampling seed ``i`` for data set ``i``), 4 x 1000 draws,
and prints one JSON line per fit and a closing count.  A fit passes when the check users see
holds: max R-hat <= 1.01, min bulk ESS >= 400 over every parameter (group effects included), no
divergences (and, for bayesmix, no stuck chain).

    .venv/bin/python benchmarks/convergence.py logit 10      # crossed logit, 7,500 rows, 300 x 25
    .venv/bin/python benchmarks/convergence.py items 10      # subjects x items, 40 x 30
    .venv/bin/python benchmarks/convergence.py poisson 10    # overdispersed counts, held-out shape

``--systems bayesmix,bambi,pymc`` fits the same data sets with bambi (its defaults, nutpie, 1000
tuning steps) and a hand-written non-centred PyMC model (nutpie); ``--out FILE`` appends the
counts to a markdown table (``benchmarks/RESULTS_convergence.md``).
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


FAMILY = {"items": "gaussian", "logit": "bernoulli", "poisson": "poisson"}


def fit_bayesmix(case: str, i: int, tune: int | None) -> dict:
    model = model_for(case, i)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bm.ConvergenceWarning)
        extra = {} if tune is None else {"tune": tune}
        fit = model.fit(seed=i, progressbar=False, **extra)
    c = fit.convergence
    return {
        "max_rhat": float(c["max_rhat"]),
        "min_ess_bulk": float(c["min_ess_bulk"]),
        "divergences": int(c["divergences"]),
        "stuck": bool(c["stuck_chains"]),
        "slowest": str(fit.summary()["ess_bulk"].idxmin()),
    }


def _judge(idata) -> dict:
    """The same check on a peer's draws: every posterior variable, divergences."""
    from bayesmix.inference.sampling import convergence_report

    c = convergence_report(idata)
    return {
        "max_rhat": float(c["max_rhat"]),
        "min_ess_bulk": float(c["min_ess_bulk"]),
        "divergences": int(c["divergences"]),
        "stuck": False,
    }


def fit_bambi(case: str, i: int, tune: int | None) -> dict:
    import bambi as bmb

    model = model_for(case, i)
    peer = bmb.Model(model.formula, model.data, family=FAMILY[case])
    idata = peer.fit(
        draws=1000, tune=tune or 1000, chains=4, random_seed=i, inference_method="nutpie", progressbar=False
    )
    return _judge(idata)


def _plain_pymc(case: str, data):
    """A hand-written non-centred PyMC model of the case (LKJCholeskyCov for the subjects' pair)."""
    import pandas as pd
    import pymc as pm

    fam = FAMILY[case]
    y = data[{"items": "rt", "logit": "y", "poisson": "y"}[case]].to_numpy(float)
    scale = y.std() if fam == "gaussian" else 1.0
    if case == "poisson":
        X = pd.get_dummies(data[["year"]], drop_first=True, dtype=float).assign(height=data["height"])
        bars = [("1", "grp"), ("1", "loc")]
    else:
        X = data[["cond" if case == "items" else "x"]].astype(float)
        bars = [(X.columns[0], "subj"), ("1", "item")]
    X = X.to_numpy(float)
    with pm.Model() as m:
        icpt = pm.Normal("Intercept", y.mean() if fam == "gaussian" else 0.0, 5 * scale)
        beta = pm.Normal("beta", 0, 5 * scale, shape=X.shape[1])
        eta = icpt + X @ beta
        for lhs, g in bars:
            idx = pd.factorize(data[g], sort=True)[0]
            J = int(idx.max()) + 1
            if lhs == "1":
                sd = pm.HalfNormal(f"sd_{g}", 2.5 * scale)
                eta = eta + sd * pm.Normal(f"z_{g}", 0, 1, shape=J)[idx]
            else:
                chol, _, _ = pm.LKJCholeskyCov(
                    f"L_{g}", n=2, eta=1.0, sd_dist=pm.HalfNormal.dist(2.5 * scale), compute_corr=True
                )
                u = pm.Normal(f"z_{g}", 0, 1, shape=(J, 2)) @ chol.T
                eta = eta + u[idx, 0] + u[idx, 1] * data[lhs].to_numpy(float)
        if fam == "gaussian":
            pm.Normal("y", eta, pm.HalfNormal("sigma", 2.5 * scale), observed=y)
        elif fam == "bernoulli":
            pm.Bernoulli("y", logit_p=eta, observed=y)
        else:
            pm.Poisson("y", pm.math.exp(eta), observed=y)
    return m


def fit_pymc(case: str, i: int, tune: int | None) -> dict:
    import nutpie

    compiled = nutpie.compile_pymc_model(_plain_pymc(case, model_for(case, i).data))
    idata = nutpie.sample(compiled, draws=1000, tune=tune or 1000, chains=4, seed=i, progress_bar=False)
    return _judge(idata)


FITS = {"bayesmix": fit_bayesmix, "bambi": fit_bambi, "pymc": fit_pymc}


def passes(r: dict) -> bool:
    return bool(
        r["divergences"] == 0 and not r["stuck"] and r["max_rhat"] <= 1.01 and r["min_ess_bulk"] >= 400
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("case", choices=["items", "logit", "poisson"])
    ap.add_argument("n", type=int, help="number of data sets")
    ap.add_argument("--first", type=int, default=0, help="first data set")
    ap.add_argument("--tune", type=int, default=None, help="tuning steps (default: each system's)")
    ap.add_argument("--systems", default="bayesmix", help="comma-separated: bayesmix, bambi, pymc")
    ap.add_argument("--out", type=Path, default=None, help="append the counts to this markdown file")
    args = ap.parse_args()
    lines = []
    for system in args.systems.split(","):
        results = []
        for i in range(args.first, args.first + args.n):
            t0 = time.perf_counter()
            r = FITS[system](args.case, i, args.tune)
            r |= {"seconds": time.perf_counter() - t0, "passed": passes(r)}
            results.append(r)
            shown = {k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}
            print(json.dumps({"case": args.case, "system": system, "data_set": i} | shown), flush=True)
        passed = sum(r["passed"] for r in results)
        print(f"{args.case}, {system}: {passed} of {args.n} passed", flush=True)
        ess = [r["min_ess_bulk"] for r in results]
        lines.append(
            f"| {args.case} | {system} | {args.first}-{args.first + args.n - 1} | {passed} of {args.n} | "
            f"{min(ess):.0f}-{max(ess):.0f} | {max(r['max_rhat'] for r in results):.3f} | "
            f"{sum(r['divergences'] > 0 for r in results)} | {sum(r['seconds'] for r in results) / args.n:.1f} |"
        )
    if args.out is not None:
        new = not args.out.exists()
        with args.out.open("a") as fh:
            if new:
                fh.write(HEADER)
            fh.write("\n".join(lines) + "\n")
    return 0


HEADER = """# Convergence at the defaults (issue 15 point 1)

Command: `python benchmarks/convergence.py CASE 10 --systems bayesmix,bambi,pymc --out benchmarks/RESULTS_convergence.md`

Each system fits the same simulated data sets (data set i: the tests' design and truth, data seed
and sampling seed i) with 4 chains x 1000 draws at its defaults: bayesmix as a user calls it,
bambi (nutpie, 1000 tuning steps), plain PyMC a hand-written non-centred model (nutpie, 1000
tuning steps). A fit passes when every parameter (group effects included) has R-hat <= 1.01 and
bulk ESS >= 400 and no draw diverged. `s/fit` is the mean seconds per fit in one process (the
peers compile each data set's model anew).

| case | system | data sets | passed | min bulk ESS (range) | worst R-hat | fits with divergences | s/fit |
|---|---|---|---|---|---|---|---|
"""


if __name__ == "__main__":
    raise SystemExit(main())
