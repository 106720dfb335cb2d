"""Compiled log densities shared by every model of a kind: no compile per model.

nutpie samples a PyMC model through a numba function that PyTensor generates from the
model's graph; numba compiles it afresh for every model structure, about 20 s of LLVM
work on this machine for sleepstudy's 69-node graph (``benchmarks/README.md``), while
the collapsed likelihood inside it is one kernel that is the same for every model.

This module describes a model's log density as a :class:`Program` of numbers instead:
per element of the unconstrained vector its transform and prior, where the population
effects, SDs, canonical partial correlations and the family's parameters sit in it, and
the data.  Three kinds are covered:

* ``"one_factor"`` (:mod:`.one_factor`): Gaussian models whose one factor is integrated
  out (any number of varying coefficients, correlated or not);
* ``"nested"`` (:mod:`.nested`): Gaussian models whose chain of nested factors (up to two
  varying coefficients each) is integrated out;
* ``"rows"`` (:mod:`.rows`): models whose group effects are sampled -- gaussian, student,
  bernoulli (logit, probit), binomial, poisson, negbinomial, gamma, lognormal, beta (logit)
  and cumulative, any number of crossed or nested
  factors in any parameterisation, level-two predictors, offsets.  Its density is one
  fused pass over the rows (gathers of the group effects, the row densities, scatter-adds
  of their gradients), not a graph of many small kernels.  The same kind covers Gaussian
  models with one crossed factor integrated out given the others' sampled effects
  (:mod:`.crossed`: two passes over the rows, or their sufficient statistics when the
  factor and the other factors are intercepts only).

One numba callback per kind, whose source never changes, evaluates any program of its
kind (:mod:`.callback`); it is compiled once per machine (``.ci/setup`` does it at
installation) and loaded from numba's disk cache afterwards, so a new model structure
costs milliseconds.  The callback computes exactly the graph's density (same priors, same
transforms and Jacobians, the same collapsed kernel), checked against PyMC's compiled
log density and gradient in ``tests/inference/test_native.py``.

Anything :func:`program` does not recognise (another strategy or family, a prior or
transform it does not know, weights, an unexpected graph) returns None and the model goes through
:mod:`bayesmix.inference.compiled` as before.
"""

from __future__ import annotations

from nutpie import compile_pymc as ncp

from bayesmix.inference.compiled import _CachedCompiledModel, _initial_points
from bayesmix.inference.native import nested, one_factor, rows
from bayesmix.inference.native.callback import KINDS, callbacks, evaluate
from bayesmix.inference.native.layout import DISTS, TRANSFORMS, Program, Unsupported, table

__all__ = ["Program", "program", "compile_program", "evaluate", "callbacks", "KINDS", "DISTS", "TRANSFORMS"]


def program(built, design, keep) -> Program | None:
    """The native :class:`Program` of a built model, or None when no kind covers it.

    Parameters
    ----------
    built : BuiltModel
    design : Design
        The design it was built from.
    keep : list of str
        The variables the trace stores (free variables only are supported).
    """
    for make in (one_factor.program, nested.program, rows.program):
        try:
            return make(built, design, keep)
        except Unsupported:
            continue
    return None


def compile_program(model, prog: Program):
    """nutpie's compiled model for ``prog`` (the PyMC ``model`` gives starting points, dims, coords)."""
    logp_c, expand_c = callbacks(prog.kind)
    names_, slices, shapes = [], [], []
    for name, shape, sl in prog.expanded:
        names_.append(name)
        slices.append(sl)
        shapes.append(shape)
    shape_info = (names_, slices, shapes)
    point_fn = ncp._rv_dict_to_flat_array_wrapper(
        _initial_points(model), names=[n for n, _ in prog.free], shapes=[s for _, s in prog.free]
    )
    reparameterized = [
        model.rvs_to_values[rv].name for rv in model.free_RVs if model.rvs_to_transforms.get(rv) is not None
    ]
    dims, coords = ncp._prepare_dims_and_coords(model, shape_info, reparameterized)
    keep = {f"native{i}": arr for i, arr in enumerate(prog.arrays)}
    return _CachedCompiledModel(
        _n_dim=prog.n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info, strict=True)},
        compiled_logp_func=logp_c,
        compiled_expand_func=expand_c,
        initial_point_func=point_fn,
        shared_data=keep,
        shared_var_keys={},
        user_data=table(prog),
        n_expanded=int(prog.arrays[2].shape[0]),  # out_idx
        shape_info=shape_info,
        logp_func=None,
        expand_func=None,
        reparameterized_names=reparameterized,
    )
