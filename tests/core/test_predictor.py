"""The linear predictor from draws, checked against a direct row-by-row computation."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayesmix as bm
from bayesmix.core.predictor import coefficients, linear_predictor
from bayesmix.errors import DataError


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(3)
    n = 120
    df = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "c": rng.choice(["lo", "mid", "hi"], size=n),
            "g": rng.choice([f"g{i}" for i in range(6)], size=n),
            "h": rng.choice(["p", "q", "r", "s"], size=n),
            "e": rng.uniform(1, 3, size=n),
        }
    )
    df["y"] = rng.poisson(3, size=n)
    return bm.Model("y ~ x + c + (1 + x | g) + (1 | h) + offset(np.log(e))", df, family="poisson"), df


def _fake_posterior(design, seed=0, chains=2, draws=3):
    """Random 'draws' with the posterior's names and dims (the predictor only reads them)."""
    rng = np.random.default_rng(seed)
    coords = {"chain": np.arange(chains), "draw": np.arange(draws), **design.coords()}
    data = {"b": (("chain", "draw", "term"), rng.normal(size=(chains, draws, len(design.terms))))}
    for f in design.factors:
        data[f"r_{f.name}"] = (
            ("chain", "draw", f.dim, f"{f.name}__coef"),
            rng.normal(size=(chains, draws, f.n_levels, len(f.coefs))),
        )
    return xr.Dataset(
        data, coords={k: v for k, v in coords.items() if k in {d for v in data.values() for d in v[0]}}
    )


def _direct(post, df, design, groups):
    """eta row by row, reading coefficients by name (no matrix algebra shared with the package)."""
    b = post["b"]
    out = np.zeros((post.sizes["chain"], post.sizes["draw"], len(df)))
    for i, (_, row) in enumerate(df.iterrows()):
        eta = b.sel(term="Intercept") + b.sel(term="x") * row["x"] + np.log(row["e"])
        if row["c"] != "hi":  # treatment coding, reference level 'hi' (sorted first)
            eta = eta + b.sel(term=f"c[T.{row['c']}]")
        if "g" in groups:
            r = post["r_g"].sel(g=row["g"])
            eta = eta + r.sel(g__coef="Intercept") + r.sel(g__coef="x") * row["x"]
        if "h" in groups:
            eta = eta + post["r_h"].sel(h=row["h"], h__coef="Intercept")
        out[..., i] = eta.values
    return out


@pytest.mark.parametrize("groups", ["all", None, ["g"], ["h"]])
def test_linear_predictor_equals_the_direct_computation(model, groups):
    m, df = model
    post = _fake_posterior(m.design)
    eta = linear_predictor(post, m.design, groups=groups)
    names = {"all": ["g", "h"], None: []}.get(groups if isinstance(groups, str | type(None)) else "x", groups)
    np.testing.assert_allclose(eta, _direct(post, df, m.design, names), rtol=1e-12, atol=1e-12)
    assert eta.shape == (2, 3, len(df))


def test_new_data_give_the_same_eta_as_the_fitted_rows(model):
    m, df = model
    post = _fake_posterior(m.design, seed=1)
    new = m.design.encode(df.iloc[::-1])
    eta_new = linear_predictor(post, m.design, new=new)
    eta_fit = linear_predictor(post, m.design)
    np.testing.assert_allclose(eta_new, eta_fit[..., ::-1], rtol=1e-12)


def test_small_chunks_give_the_same_answer(model):
    m, _ = model
    post = _fake_posterior(m.design, seed=2)
    np.testing.assert_allclose(
        linear_predictor(post, m.design, chunk=1), linear_predictor(post, m.design), rtol=1e-12
    )


def test_coefficients_are_population_plus_deviation(model):
    m, _ = model
    post = _fake_posterior(m.design, seed=4)
    f = m.design.factor("g")
    total, cols = coefficients(post, m.design, f)
    j = cols.index("x")
    expected = post["b"].sel(term="x").values[..., None] + post["r_g"].sel(g__coef="x").values
    np.testing.assert_allclose(total[..., j], expected)


def test_encode_names_unseen_categories_missing_values_and_new_groups(model):
    m, df = model
    bad = df.head(4).copy()
    bad.loc[bad.index[1], "c"] = "extreme"
    with pytest.raises(DataError, match=r"'c'.*'extreme'.*rows \[1\]"):
        m.design.encode(bad)
    bad = df.head(4).copy()
    bad.loc[bad.index[2], "x"] = np.nan
    with pytest.raises(DataError, match=r"missing values in column 'x'.*rows \[2\]"):
        m.design.encode(bad)
    bad = df.head(4).copy()
    bad.loc[bad.index[0], "g"] = "g99"
    with pytest.raises(DataError, match=r"factor 'g' has levels not in the fitted data: \['g99'\]"):
        m.design.encode(bad)
    new = m.design.encode(bad, new_levels="allow")
    assert new.index["g"][0] == -1


def test_encode_rebuilds_explicit_level_two_columns():
    radon = bm.datasets.load("radon")
    m = bm.Model(
        "log_radon ~ floor + (1 + floor | county)",
        radon,
        level2={"county": {"Intercept": "~ log_uranium", "floor": "~ log_uranium"}},
    )
    new = m.design.encode(radon)
    assert new.X.shape == m.design.X.shape
    np.testing.assert_allclose(new.X, m.design.X, rtol=1e-12)
