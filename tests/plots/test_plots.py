"""Every plot returns a figure whose content is what a statistician expects: one panel per
parameter or coefficient, an arrow per group, a panel per group, labels and legends.
Each figure is also rendered to PNG (a figure that fails to draw fails here)."""

import warnings

import matplotlib.figure
import matplotlib.text
import numpy as np
import pytest

import bayesmix as bm
from bayesmix import plots


def _png(fig, tmp_path, name):
    assert isinstance(fig, matplotlib.figure.Figure)
    path = tmp_path / f"{name}.png"
    fig.savefig(path, dpi=60)
    assert path.stat().st_size > 5000


def _visible(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


@pytest.fixture(scope="module")
def radon():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bm.ConvergenceWarning)
        return bm.Model("log_radon ~ floor + (1 | county)", bm.datasets.load("radon")).fit(
            draws=300, tune=400, chains=2, seed=2, progressbar=False
        )


def test_trace_gives_each_parameter_its_own_row_and_a_chain_legend(sleep_fit, tmp_path):
    fig = sleep_fit.plot("trace")
    _png(fig, tmp_path, "trace")
    # b[Intercept], b[Days], two SDs, one correlation, sigma: 6 rows of (density, trace)
    assert len(_visible(fig)) == 12
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == [f"chain {i}" for i in range(4)]


def test_coef_caterpillar_shares_one_order_and_draws_the_population(sleep_fit, tmp_path):
    fig = sleep_fit.plot("coef")
    _png(fig, tmp_path, "coef")
    left, right = _visible(fig)
    labels = [t.get_text() for t in left.get_yticklabels()]
    assert labels == [t.get_text() for t in right.get_yticklabels()] and len(labels) == 18
    # sorted by the first panel's estimate
    means = sleep_fit.coef("Subject").xs("Intercept", level="coef")["mean"]
    assert labels == list(means.sort_values().index.astype(str))
    b = sleep_fit.fixef()["mean"]
    assert any(np.allclose(line.get_xdata(), b["Days"]) for line in right.get_lines())


def test_coef_drops_coefficients_that_do_not_vary(radon, tmp_path):
    fig = radon.plot("coef")
    _png(fig, tmp_path, "coef_radon")
    (ax,) = _visible(fig)  # floor is not a varying coefficient: no column of identical intervals
    assert ax.get_title() == "Intercept"


def test_all_factors_when_none_is_named(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bm.ConvergenceWarning)
        fit = bm.Model("diameter ~ 1 + (1 | plate) + (1 | sample)", bm.datasets.load("penicillin")).fit(
            draws=200, tune=300, chains=2, seed=1, progressbar=False
        )
    fig = fit.plot("ranef")
    _png(fig, tmp_path, "ranef_crossed")
    titles = {ax.get_title() for ax in _visible(fig)}
    assert titles == {"plate: Intercept", "sample: Intercept"}


def _arrows(ax):
    return [c for c in ax.get_children() if isinstance(c, matplotlib.text.Annotation)]


def test_shrinkage_plots_draw_an_arrow_per_group(sleep_fit, radon, tmp_path):
    fig = sleep_fit.plot("shrinkage")
    _png(fig, tmp_path, "shrinkage")
    axes = _visible(fig)
    assert [ax.get_ylabel() for ax in axes] == ["Intercept", "Days"]
    assert all(len(_arrows(ax)) == 18 for ax in axes)
    fig = radon.plot("shrinkage")
    _png(fig, tmp_path, "shrinkage_radon")
    (ax,) = _visible(fig)
    assert len(_arrows(ax)) == 85 and ax.get_xscale() == "log"
    assert "rows in the group" in ax.get_xlabel()
    fig = sleep_fit.plot("shrinkage2d")
    _png(fig, tmp_path, "shrinkage2d")
    (ax,) = _visible(fig)
    assert len(_arrows(ax)) == 18 and len(ax.patches) == 2  # the 50% and 95% ellipses
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Intercept", "Days")


def test_group_lines_give_a_panel_per_subject(sleep_fit, tmp_path):
    fig = sleep_fit.plot("lines")
    _png(fig, tmp_path, "lines")
    axes = _visible(fig)
    assert [ax.get_title() for ax in axes] == list(sleep_fit.design.factor("Subject").levels)
    # data, no-pooling, partial-pooling and complete-pooling lines in every panel
    assert all(len(ax.get_lines()) == 4 for ax in axes)


def test_conditional_effects(sleep_fit, radon, tmp_path):
    table = sleep_fit.conditional_effects("Days", factor="Subject")
    assert set(table["group"]) == {"population", *sleep_fit.design.factors[0].levels}
    pop = table[table["group"] == "population"]
    b = sleep_fit.fixef()["mean"]
    # the population mean line is the posterior mean of Intercept + Days * x
    np.testing.assert_allclose(pop["mean"], b["Intercept"] + b["Days"] * pop["effect"], rtol=1e-9)
    assert (pop["lower"] < pop["mean"]).all() and (pop["mean"] < pop["upper"]).all()
    fig = plots.plot_conditional_effects(table)
    _png(fig, tmp_path, "effects")
    (ax,) = _visible(fig)
    assert ax.get_xlabel() == "Days" and len(ax.get_lines()) == 19
    fig = radon.plot("effects", effect="floor", factor="county", levels=["AITKIN", "ANOKA"])
    _png(fig, tmp_path, "effects_radon")
    with pytest.raises(bm.ArgumentError, match="effect"):
        sleep_fit.conditional_effects("Dayz")
    with pytest.raises(bm.ArgumentError, match="levels"):
        sleep_fit.conditional_effects("Days", factor="Subject", levels=["999"])


def test_ppc_overlays_predictive_draws_on_the_data(sleep_fit, tmp_path):
    fig = sleep_fit.plot("ppc", seed=1)
    _png(fig, tmp_path, "ppc")
    assert "observed_data" in sleep_fit.idata.children
    (ax,) = _visible(fig)
    assert ax.get_xlabel() == "Reaction" and len(ax.get_lines()) >= 51


def test_bad_kind_is_named(sleep_fit):
    with pytest.raises(bm.ArgumentError, match="kind"):
        sleep_fit.plot("histogram")
    with pytest.raises(bm.ArgumentError, match="effect"):
        sleep_fit.plot("effects")
