"""A fit is data: it pickles into a fresh process, saves to one file and loads back.

The round trips must give *identical* tables (the draws are float64 in both
formats, so equality is exact) and the same printed report.
"""

import pickle
import subprocess
import sys
import warnings

import h5py
import numpy as np
import pandas as pd
import pytest

import bayesmix as bm
from bayesmix.post.serialize import dataset_to_frame, frame_to_dataset


@pytest.fixture(scope="module")
def small_fit():
    """A quick fit with a categorical predictor (its levels' order must survive) and level-two data."""
    radon = bm.datasets.load("radon")
    radon = radon[radon["county"].isin(radon["county"].unique()[:12])].copy()
    radon["basement"] = pd.Categorical(np.where(radon["floor"] == 0, "yes", "no"), categories=["yes", "no"])
    model = bm.Model(
        "log_radon ~ basement + (1 | county)",
        radon,
        level2={"county": {"Intercept": "~ log_uranium"}},
        priors={"sigma": "half_normal(2)"},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bm.ConvergenceWarning)
        return model.fit(draws=150, tune=150, chains=2, seed=3, progressbar=False)


def test_fit_pickles_into_a_fresh_process_with_identical_tables(small_fit, tmp_path):
    blob = tmp_path / "fit.pkl"
    blob.write_bytes(pickle.dumps(small_fit))
    script = (
        "import pickle, sys; fit = pickle.load(open(sys.argv[1], 'rb')); "
        "fit.summary().to_pickle(sys.argv[2]); fit.coef().to_pickle(sys.argv[3]); print(fit.report())"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(blob), str(tmp_path / "s.pkl"), str(tmp_path / "c.pkl")],
        capture_output=True,
        text=True,
        check=True,
    )
    pd.testing.assert_frame_equal(pd.read_pickle(tmp_path / "s.pkl"), small_fit.summary())
    pd.testing.assert_frame_equal(pd.read_pickle(tmp_path / "c.pkl"), small_fit.coef())
    assert out.stdout.strip() == small_fit.report().strip()


def test_save_and_load_give_the_same_report_tables_and_encoders(small_fit, tmp_path):
    path = small_fit.save(tmp_path / "fit.nc")
    loaded = bm.load(path)
    assert loaded.report() == small_fit.report()
    pd.testing.assert_frame_equal(loaded.summary(), small_fit.summary())
    pd.testing.assert_frame_equal(loaded.coef(), small_fit.coef())
    pd.testing.assert_frame_equal(loaded.level2(), small_fit.level2())
    assert loaded.model.design.terms == small_fit.model.design.terms
    assert str(loaded.model.priors) == str(small_fit.model.priors)
    new = small_fit.model.data.head(5)
    np.testing.assert_array_equal(loaded.model.design.encode(new).X, small_fit.model.design.encode(new).X)


def test_a_loaded_fit_can_be_refitted(small_fit, tmp_path):
    loaded = bm.load(small_fit.save(tmp_path / "fit.nc"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bm.ConvergenceWarning)
        again = loaded.model.fit(draws=150, tune=150, chains=2, seed=3, progressbar=False)
    pd.testing.assert_frame_equal(again.summary(), small_fit.summary())


def test_damaged_foreign_and_newer_files_are_refused(small_fit, tmp_path):
    with pytest.raises(bm.FitFileError, match="no file"):
        bm.load(tmp_path / "missing.nc")
    junk = tmp_path / "junk.nc"
    junk.write_bytes(b"not a netCDF file at all")
    with pytest.raises(bm.FitFileError, match="not a readable netCDF"):
        bm.load(junk)
    path = small_fit.save(tmp_path / "fit.nc")
    with h5py.File(path, "a") as h:
        h.attrs["bayesmix_format"] = 99
    with pytest.raises(bm.FitFileError, match="format 99"):
        bm.load(path)
    other = tmp_path / "other.nc"
    small_fit.to_netcdf(str(other))  # an ArviZ file without the spec
    with pytest.raises(bm.FitFileError, match="not a bayesmix fit"):
        bm.load(other)


def test_a_model_is_immutable(small_fit):
    with pytest.raises(AttributeError, match="immutable"):
        small_fit.model.formula = "y ~ 1"


def test_figures_draw_from_a_loaded_file(small_fit, tmp_path):
    import matplotlib.figure

    from bayesmix import plots

    loaded = bm.load(small_fit.save(tmp_path / "fit.nc"))
    for fig in (
        plots.plot_trace(loaded.idata),
        plots.plot_forest(loaded.summary()),
        plots.plot_caterpillar(loaded.coef("county"), "county", "coef"),
    ):
        assert isinstance(fig, matplotlib.figure.Figure)
    assert plots.trace_vars(loaded.idata) == ["b", "sd_county", "sigma"]


def test_a_loaded_fit_predicts_new_data_identically(small_fit, tmp_path):
    loaded = bm.load(small_fit.save(tmp_path / "fit.nc"))
    new = small_fit.model.data.head(6).copy()
    new.loc[new.index[:2], "county"] = "A COUNTY NOT FITTED"
    for kw in (
        dict(groups=None),
        dict(kind="prediction", new_levels="sample", seed=3),
        dict(kind="link", new_levels="population"),
    ):
        np.testing.assert_array_equal(
            loaded.predict(new, **kw).draws.values, small_fit.predict(new, **kw).draws.values
        )
    with pytest.raises(bm.DataError, match="A COUNTY NOT FITTED"):
        loaded.predict(new)


def test_ordered_categories_survive_the_file_format():
    """An ordinal response given as ordered labels keeps its order through save/load."""
    order = ["poor", "fair", "good"]
    df = pd.DataFrame({"r": pd.Categorical(["good", "poor", "fair"], categories=order, ordered=True)})
    back = dataset_to_frame(frame_to_dataset(df))
    assert back["r"].cat.ordered and list(back["r"].cat.categories) == order
    assert back["r"].tolist() == ["good", "poor", "fair"]
