"""One compiled log density for every one-factor Gaussian model: no compile per model.

nutpie samples a PyMC model through a numba function that PyTensor generates from the
model's graph; numba compiles it afresh for every model structure, about 20 s of LLVM
work on this machine for sleepstudy's 69-node graph (``benchmarks/README.md``), while
the collapsed likelihood inside it is one kernel that is the same for every model.

For models whose group effects are integrated out with the one-factor strategy (any
number of varying coefficients, correlated or not, any priors of
:mod:`bayesmix.spec.priors`), this module describes the log density as a
:class:`Program` of numbers instead: per element of the unconstrained vector its
transform and prior, and where the population effects, SDs, canonical partial
correlations and sigma sit in it.  One numba callback (:func:`logp_callback`),
whose source never changes, evaluates any program; it is compiled once per machine
and loaded from numba's disk cache afterwards, so a new model structure costs
milliseconds.  The callback computes exactly the graph's density (same priors, same
transforms and Jacobians, the same collapsed kernel), checked against PyMC's compiled
log density and gradient in ``tests/inference/test_native.py``.

Anything :func:`program` does not recognise (another strategy, a prior or transform
it does not know, an unexpected graph) returns None and the model goes through
:mod:`bayesmix.inference.compiled` as before.
"""

from __future__ import annotations

from nutpie import compile_pymc as ncp

from bayesmix.inference.compiled import _CachedCompiledModel, _initial_points
from bayesmix.inference.native.callback import callbacks, evaluate
from bayesmix.inference.native.program import DISTS, TRANSFORMS, Program, program, table

__all__ = ["Program", "program", "compile_program", "evaluate", "callbacks", "DISTS", "TRANSFORMS"]


def compile_program(model, prog: Program):
    """nutpie's compiled model for ``prog`` (the PyMC ``model`` gives starting points, dims, coords)."""
    logp_c, expand_c = callbacks()
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
        n_expanded=int(prog.arrays[-1].shape[0]),
        shape_info=shape_info,
        logp_func=None,
        expand_func=None,
        reparameterized_names=reparameterized,
    )
