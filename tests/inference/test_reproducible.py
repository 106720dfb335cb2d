"""Same seed, same draws, in two fresh processes, for both engines (issue 11, item 8).

Reported once: one PyMC-sampler run in ten differed.  Not reproduced here in 17 fresh
processes (10 with 2 cores, 6 with 1, one with an empty PyTensor compile directory): all
gave the same draws; this test keeps checking it.
"""

import subprocess
import sys

import pytest

SCRIPT = """
import hashlib, sys, warnings
import numpy as np
import bayesmix as bm
warnings.simplefilter("ignore")
m = bm.Model("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"))
fit = m.fit(draws=100, tune=100, chains=2, seed=11, sampler=sys.argv[1], progressbar=False, check=False)
h = hashlib.sha256()
for v in sorted(fit.posterior.data_vars):
    h.update(np.ascontiguousarray(fit.posterior[v].values).tobytes())
print(h.hexdigest())
"""


@pytest.mark.parametrize("sampler", ["nutpie", "pymc"])
def test_two_fresh_processes_draw_the_same(sampler):
    runs = [
        subprocess.run([sys.executable, "-c", SCRIPT, sampler], capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    digests = [r.stdout.strip().splitlines()[-1] for r in runs]
    assert digests[0] == digests[1]
    assert len(digests[0]) == 64
