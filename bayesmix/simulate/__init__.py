"""Simulating from a model: designs, parameter values, responses.

* :func:`design` -- groups, rows per group, nested or crossed factors, covariates;
* :func:`true_parameters` -- parameter values checked against a model's design;
* :mod:`~bayesmix.simulate.draw` -- group effects and responses (one implementation,
  shared by ``Model.simulate``, ``Fit.simulate`` and the studies of :mod:`bayesmix.studies`).

This package sits below :mod:`bayesmix.model` (which uses it); studies that fit
models live in :mod:`bayesmix.studies`.
"""

from bayesmix.simulate.design import design, draw_covariate, extend
from bayesmix.simulate.params import TrueParameters, true_parameters

__all__ = ["design", "extend", "draw_covariate", "TrueParameters", "true_parameters"]
