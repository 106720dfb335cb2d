"""Nesting detection between two grouping factors (what picks the collapsed strategy)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bayesmix.core.suffstats import parent_index


def _factor(index):
    index = np.asarray(index, dtype=np.int64)
    return SimpleNamespace(index=index, n_levels=int(index.max()) + 1)


def _nested_by_definition(inner, outer):
    # finer, and each inner group's rows carry one outer group
    if inner.n_levels <= outer.n_levels:
        return False
    owners = {}
    for i, o in zip(inner.index.tolist(), outer.index.tolist(), strict=True):
        owners.setdefault(i, set()).add(o)
    return len(owners) == inner.n_levels and all(len(v) == 1 for v in owners.values())


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 7), min_size=1, max_size=40).flatmap(
        lambda inner: st.tuples(
            st.just(inner),
            st.lists(st.integers(0, 3), min_size=len(inner), max_size=len(inner)),
            st.booleans(),
        )
    )
)
def test_parent_index_finds_nesting_exactly_when_each_group_has_one_parent(case):
    inner_idx, outer_raw, make_nested = case
    # renumber the inner groups 0..J-1 as the design does
    _, inner_idx = np.unique(inner_idx, return_inverse=True)
    if make_nested:  # an outer group that is a function of the inner one
        outer_idx = np.asarray(outer_raw)[inner_idx]
    else:
        outer_idx = np.asarray(outer_raw)
    _, outer_idx = np.unique(outer_idx, return_inverse=True)
    inner, outer = _factor(inner_idx), _factor(outer_idx)
    parent = parent_index(inner, outer)
    assert (parent is not None) == _nested_by_definition(inner, outer)
    if parent is not None:
        np.testing.assert_array_equal(parent[inner.index], outer.index)


def test_crossed_factors_are_not_nested():
    a = _factor(np.repeat(np.arange(6), 4))
    b = _factor(np.tile(np.arange(4), 6))
    assert parent_index(a, b) is None and parent_index(b, a) is None
    c = _factor(np.repeat(np.arange(3), 8))  # a's groups two by two
    np.testing.assert_array_equal(parent_index(a, c), [0, 0, 1, 1, 2, 2])
