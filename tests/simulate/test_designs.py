"""Designs to simulate on have the structure asked for; covariate specs are parsed, never run."""

import numpy as np
import pytest

import bayesmix as bm


def test_balanced_one_factor_with_a_within_covariate():
    df = bm.simulate.design({"cluster": 100}, rows=10, within={"x": "normal(0, 1)"}, seed=1)
    assert df.shape == (1000, 2) and df["cluster"].nunique() == 100
    assert (df.groupby("cluster").size() == 10).all()
    # 1000 standard normal draws: mean within 4 SEs (0.13) of 0, SD within 10%
    assert abs(df["x"].mean()) < 0.13 and abs(df["x"].std() - 1) < 0.1


def test_unbalanced_nested_with_a_group_level_covariate():
    df = bm.simulate.design(
        {"school": 20, "class": 4}, rows=(5, 15), between={"school": {"w": "uniform(0, 1)"}}, seed=2
    )
    sizes = df.groupby("class").size()
    assert (
        df["school"].nunique() == 20
        and len(sizes) == 80
        and sizes.between(5, 15).all()
        and sizes.nunique() > 3
    )
    assert (df.groupby("class")["school"].nunique() == 1).all()  # each class sits in one school
    assert (df.groupby("school")["w"].nunique() == 1).all()  # constant within school
    assert df.groupby("school")["w"].first().nunique() == 20


def test_crossed_subjects_and_items():
    df = bm.simulate.design(
        {"subj": 40, "item": 30}, structure="crossed", within={"cond": ["a", "b"]}, seed=3
    )
    assert len(df) == 1200 and df.groupby(["subj", "item"]).size().eq(1).all()
    assert set(df["cond"]) == {"a", "b"}


def test_extend_grows_a_fitted_data_set():
    sleep = bm.datasets.load("sleepstudy")
    big = bm.simulate.extend(sleep, "Subject", 40, seed=1)
    assert big["Subject"].nunique() == 40 and len(big) == 400
    assert big.groupby("Subject").size().eq(10).all()
    with pytest.raises(bm.ArgumentError, match="n"):
        bm.simulate.extend(sleep, "Subject", 5)


@pytest.mark.parametrize(
    "spec",
    [
        "normal(0)",
        "normal(0, 1) + 1",
        "__import__('os').system('x')",
        "np.random.normal(0, 1)",
        "gamma(1, 1)",
    ],
)
def test_covariate_specs_are_an_allow_list(spec):
    with pytest.raises(bm.ArgumentError):
        bm.simulate.design({"g": 3}, rows=2, within={"x": spec})


def test_bad_groups_and_rows_are_named():
    with pytest.raises(bm.ArgumentError, match="groups"):
        bm.simulate.design({"g": 0})
    with pytest.raises(bm.ArgumentError, match="rows"):
        bm.simulate.design({"g": 3}, rows=(5, 2))
    with pytest.raises(bm.ArgumentError, match="structure"):
        bm.simulate.design({"g": 3}, structure="diagonal")
    values = np.arange(6)
    assert (bm.simulate.design({"g": 3}, rows=2, within={"x": values})["x"] == values).all()
