"""Same seed, same draws, in two fresh processes, for both engines (issue 11, item 8).

Reported once: one PyMC-sampler run in ten differed.  Found: the first run on a machine
(an empty PyTensor cache, so its functions compiled afresh) drew other draws than later
runs (functions loaded from numba's disk cache) -- numba's fast-math flags, as earlier
found for nutpie.  The PyMC engine now samples with fast-math off; the first process
here starts from an empty cache, the second loads what the first compiled.
"""

import os
import subprocess
import sys

SCRIPT = """
import hashlib, sys, warnings
import numpy as np
import bayesmix as bm
warnings.simplefilter("ignore")
m = bm.Model("Yield ~ 1 + (1 | Batch)", bm.datasets.load("dyestuff"))
fit = m.fit(draws=100, tune=100, chains=2, seed=11, sampler=sys.argv[1], progressbar=False, check=False)
h = hashlib.sha256()
for v in sorted(fit.posterior.data_vars):
    h.update(np.ascontiguousarray(fit.posterior[v].values).tobytes())
print(h.hexdigest())
"""


def test_pymc_draws_the_same_compiled_afresh_or_loaded_from_the_cache(tmp_path):
    """nutpie's twin is tests/inference/test_compiled.py's empty-cache test."""
    sampler = "pymc"
    env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={tmp_path / 'cache'}"}
    runs = [
        subprocess.run(
            [sys.executable, "-c", SCRIPT, sampler], capture_output=True, text=True, check=True, env=env
        )
        for _ in range(2)
    ]
    digests = [r.stdout.strip().splitlines()[-1] for r in runs]
    assert digests[0] == digests[1]
    assert len(digests[0]) == 64
