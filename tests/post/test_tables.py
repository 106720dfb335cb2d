import numpy as np
import pytest

import bayesmix as bm


def test_report_reads_like_brms(sleep_fit):
    text = repr(sleep_fit)
    for piece in [
        "Family: gaussian (link: identity)",
        "Formula: Reaction ~ Days + (Days | Subject)",
        "~Subject (Number of levels: 18)",
        "sd(Intercept)",
        "cor(Intercept,Days)",
        "Population-level effects:",
        "sigma",
        "Rhat",
        "Bulk_ESS",
        "Tail_ESS",
        "2.5%",
    ]:
        assert piece in text, piece


def test_summary_columns_and_labels(sleep_fit):
    s = sleep_fit.summary()
    assert list(s.columns) == [
        "class",
        "group",
        "mean",
        "sd",
        "q2.5",
        "q97.5",
        "rhat",
        "ess_bulk",
        "ess_tail",
    ]
    assert list(s.index) == [
        "b_Intercept",
        "b_Days",
        "sd_Subject__Intercept",
        "sd_Subject__Days",
        "cor_Subject__Intercept__Days",
        "sigma",
    ]
    s90 = sleep_fit.summary(prob=0.9)
    assert "q5" in s90.columns and "q95" in s90.columns
    assert len(sleep_fit.summary(ranef=True)) == 6 + 36


def test_coef_is_fixef_plus_ranef(sleep_fit):
    fx, re, co = sleep_fit.fixef(), sleep_fit.ranef("Subject"), sleep_fit.coef("Subject")
    for coef in ("Intercept", "Days"):
        expected = fx.loc[coef, "mean"] + re.xs(coef, level="coef")["mean"]
        np.testing.assert_allclose(co.xs(coef, level="coef")["mean"], expected, rtol=1e-10)


def test_varcorr_layout(sleep_fit):
    vc = sleep_fit.varcorr()
    assert list(vc.index) == [
        ("Subject", "Intercept", ""),
        ("Subject", "Days", ""),
        ("Subject", "Intercept", "Days"),
        ("Residual", "sigma", ""),
    ]


def test_idata_is_a_datatree_with_readable_names(sleep_fit):
    post = sleep_fit.idata["posterior"]
    assert set(post.data_vars) == {"b", "sd_Subject", "cor_Subject", "r_Subject", "sigma"}
    assert post["r_Subject"].dims == ("chain", "draw", "Subject", "Subject__coef")
    assert post.sizes["chain"] == 4 and post.sizes["draw"] == 1000


def test_same_seed_same_draws():
    m = bm.Model("Yield ~ 1 + (1 | Batch)", bm.datasets.load("dyestuff"))
    kw = dict(draws=50, tune=50, chains=2, seed=7, progressbar=False, check=False)
    a, b = m.fit(**kw), m.fit(**kw)
    np.testing.assert_array_equal(a.posterior["b"].values, b.posterior["b"].values)
    c = m.fit(**{**kw, "seed": 8})
    assert not np.array_equal(a.posterior["b"].values, c.posterior["b"].values)


@pytest.mark.parametrize("kind", ["trace", "forest", "ranef", "coef"])
def test_plots_return_figures(sleep_fit, kind, tmp_path):
    import matplotlib.figure

    fig = sleep_fit.plot(kind)
    assert isinstance(fig, matplotlib.figure.Figure)
    fig.savefig(tmp_path / f"{kind}.png")
    assert (tmp_path / f"{kind}.png").stat().st_size > 5000


def test_netcdf_round_trip(sleep_fit, tmp_path):
    import xarray as xr

    sleep_fit.to_netcdf(str(tmp_path / "post.nc"))
    back = xr.open_datatree(tmp_path / "post.nc", engine="h5netcdf")
    np.testing.assert_allclose(back["posterior"]["b"].values, sleep_fit.posterior["b"].values)


def test_pymc_sampler_gives_the_same_posterior():
    """PyMC's NUTS and nutpie agree within Monte Carlo error (4 x 500 draws; 5 MC SEs)."""
    m = bm.Model("Yield ~ 1 + (1 | Batch)", bm.datasets.load("dyestuff"), priors={"sd": "half_normal(100)"})
    kw = dict(draws=500, tune=500, chains=4, seed=5, progressbar=False, check=False, target_accept=0.95)
    a, b = m.fit(**kw), m.fit(sampler="pymc", **kw)
    for fit in (a, b):
        assert fit.summary()["ess_bulk"].min() > 150
    sa, sb = a.summary(), b.summary()
    for p in ("b_Intercept", "sigma"):
        se = np.hypot(
            sa.loc[p, "sd"] / np.sqrt(sa.loc[p, "ess_bulk"]), sb.loc[p, "sd"] / np.sqrt(sb.loc[p, "ess_bulk"])
        )
        assert abs(sa.loc[p, "mean"] - sb.loc[p, "mean"]) < 5 * se, p
