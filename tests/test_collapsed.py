"""Collapsed Gaussian sampling gives the posterior of the full model.

Tolerance: posterior means within 0.25 posterior SD and SDs within 15% between
the collapsed and the full (uncollapsed) fit, group effects included.  With bulk
ESS >= 375 in both fits the MC SE of a difference of means is <= 0.075 SD, so
0.25 is over 3 SEs; an SD's relative MC error is <= 3.7% per fit.
"""

from __future__ import annotations

import numpy as np
import pytest
from _util import quiet_fit

import bayesmix as bm
from bayesmix.collapsed import applies

CASES = [
    ("sleepstudy", "Reaction ~ Days + (Days | Subject)"),
    ("radon", "log_radon ~ floor + (floor | county)"),
    ("radon", "log_radon ~ floor + log_uranium + (1 | county)"),
]


@pytest.mark.slow
@pytest.mark.parametrize("data, formula", CASES)
def test_collapsed_matches_full(data, formula):
    m = bm.Model(formula, bm.datasets.load(data))
    a, b = quiet_fit(m, collapse=True, seed=11), quiet_fit(m, collapse=False, seed=11)
    assert a.collapsed and not b.collapsed
    sa, sb = a.summary(ranef=True), b.summary(ranef=True)
    assert sb["ess_bulk"].min() >= 375
    assert set(a.posterior.data_vars) == set(b.posterior.data_vars)
    diff = (sa["mean"] - sb["mean"]).abs() / sb["sd"]
    assert diff.max() < 0.25, diff.idxmax()
    ratio = (sa["sd"] / sb["sd"] - 1).abs()
    assert ratio.max() < 0.15, ratio.idxmax()
    # the collapsed geometry mixes better on the hyperparameters
    hyper = [p for p in sa.index if p.startswith(("sd_", "cor_"))]
    assert sa.loc[hyper, "ess_bulk"].min() > sb.loc[hyper, "ess_bulk"].min()
    assert "integrated out" in repr(a)


def test_where_collapsing_applies():
    pen = bm.Model("diameter ~ 1 + (1 | plate) + (1 | sample)", bm.datasets.load("penicillin"))
    ok, why = applies(pen.design, pen.family)
    assert not ok and "2 grouping factors" in why
    with pytest.raises(bm.ArgumentError, match="argument 'collapse'.*2 grouping factors"):
        pen.fit(collapse=True)
    cbpp = bm.Model(
        "cbind(incidence, size - incidence) ~ period + (1 | herd)",
        bm.datasets.load("cbpp"),
        family="binomial",
    )
    assert not applies(cbpp.design, cbpp.family)[0]


def test_group_effect_draws_follow_the_seed():
    m = bm.Model("Yield ~ 1 + (1 | Batch)", bm.datasets.load("dyestuff"))
    kw = dict(draws=100, tune=100, chains=2, seed=3, progressbar=False, check=False)
    a, b = m.fit(**kw), m.fit(**kw)
    assert a.collapsed
    np.testing.assert_array_equal(a.posterior["r_Batch"].values, b.posterior["r_Batch"].values)
