"""Time one evaluation of a model's native log density and gradient (no sampler around it).

    .venv/bin/python benchmarks/density_speed.py                 # InstEval crossed
    .venv/bin/python benchmarks/density_speed.py sleepstudy "Reaction ~ Days + (Days | Subject)"

Prints the best of 10 rounds of 300 evaluations of the compiled callback, as nutpie calls it (here
through ``ctypes``, whose call costs about a microsecond).
"""

from __future__ import annotations

import ctypes
import sys
import time

import numpy as np

import bayesmix as bm
from bayesmix.collapsed import applies
from bayesmix.inference import native
from bayesmix.inference.native.callback import callbacks, evaluate
from bayesmix.inference.native.layout import table


def main() -> int:
    data_name = sys.argv[1] if len(sys.argv) > 1 else "insteval"
    formula = sys.argv[2] if len(sys.argv) > 2 else "y ~ lectage + service + (1 | s) + (1 | d) + (1 | dept)"
    model = bm.Model(formula, bm.datasets.load(data_name))
    built = model.built_collapsed if applies(model.design, model.family)[0] else model.built
    prog = native.program(built, model.design, built.free_names)
    if prog is None:
        raise SystemExit("no native program covers this model")
    dim = sum(int(np.prod(shape)) for _, shape in prog.free)
    x = np.random.default_rng(0).normal(size=dim) * 0.1
    logp, _ = evaluate(prog, x)
    logp_c, _ = callbacks(prog.kind)
    tab = table(prog)
    grad, out = np.zeros(dim), np.zeros(())
    ptr = ctypes.POINTER(ctypes.c_double)
    args = (dim, x.ctypes.data_as(ptr), grad.ctypes.data_as(ptr), out.ctypes.data_as(ptr), tab.ctypes.data)
    call = logp_c.ctypes
    best = float("inf")
    for _ in range(10):
        t = time.perf_counter()
        for _ in range(300):
            call(*args)
        best = min(best, (time.perf_counter() - t) / 300)
    print(f"{data_name}: {prog.kind} program, {dim} dimensions, log density {logp:.6f}")
    print(f"{best * 1e3:.3f} ms per evaluation (best of 10 x 300)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
