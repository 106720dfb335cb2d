"""Helpers shared by the test modules."""

from __future__ import annotations

import warnings

import bayesmix as bm


def quiet_fit(model: bm.Model, **kw) -> bm.Fit:
    """Fit without a progress bar, seed 1 unless given, convergence warnings silenced
    (the tests assert on R-hat and ESS themselves)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bm.ConvergenceWarning)
        return model.fit(progressbar=False, **{"seed": 1, **kw})
