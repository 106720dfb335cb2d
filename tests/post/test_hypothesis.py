"""Hypotheses: probabilities equal the share of draws, and statements are data, never code."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayesmix as bm
from bayesmix.post.hypothesis import hypothesis


def test_probabilities_and_estimates_come_from_the_draws(sleep_fit):
    days = sleep_fit.posterior["b"].sel(term="Days").values.ravel()
    sd = sleep_fit.posterior["sd_Subject"].sel(Subject__coef="Days").values.ravel()
    t = sleep_fit.hypothesis(["Days > 5", "Days = 10", "sd_Subject__Days < 2 * Days", "b_Days*2 <= 21"])
    assert t.loc["Days > 5", "Post.Prob"] == pytest.approx(np.mean(days > 5), abs=1e-12)
    assert t.loc["Days > 5", "Estimate"] == pytest.approx(days.mean() - 5, rel=1e-12)
    assert t.loc["Days > 5", "Evid.Ratio"] == pytest.approx(np.mean(days > 5) / np.mean(days <= 5))
    assert np.isnan(t.loc["Days = 10", "Post.Prob"])
    lo, hi = np.quantile(days - 10, [0.025, 0.975])
    assert t.loc["Days = 10", ["CI.Lower", "CI.Upper"]].tolist() == pytest.approx([lo, hi])
    assert t.loc["Days = 10", "Star"] == ("*" if lo > 0 or hi < 0 else "")
    assert t.loc["sd_Subject__Days < 2 * Days", "Post.Prob"] == pytest.approx(np.mean(sd < 2 * days))
    assert t.loc["b_Days*2 <= 21", "Post.Prob"] == pytest.approx(np.mean(2 * days < 21))


def test_terms_that_are_not_names_go_in_backticks():
    rng = np.random.default_rng(2)
    df = pd.DataFrame(
        {"x": rng.normal(size=120), "c": np.tile(["a", "b"], 60), "g": np.repeat(range(12), 10)}
    )
    df["y"] = df["x"] * (df["c"] == "b") + rng.normal(size=120)
    design = bm.Model("y ~ x * c + (1 | g)", df).design
    # statements are arithmetic on draws: stand-in draws of the population effects suffice
    b = rng.normal(0.2, 1.0, size=(2, 300, len(design.terms)))
    post = xr.Dataset(
        {"b": (("chain", "draw", "term"), b), "sd_g": (("chain", "draw", "g__coef"), np.abs(b[..., :1]))},
        coords={"term": list(design.terms), "g__coef": ["Intercept"]},
    )
    term = [t for t in design.terms if ":" in t][0]
    t = hypothesis(post, design, [f"`{term}` > 0", f"2 * `{term}` - x < 1"])
    bt, bx = b[..., design.terms.index(term)].ravel(), b[..., design.terms.index("x")].ravel()
    assert t["Post.Prob"].iloc[0] == pytest.approx(np.mean(bt > 0))
    assert t["Post.Prob"].iloc[1] == pytest.approx(np.mean(2 * bt - bx < 1))


@pytest.mark.parametrize(
    "statement",
    [
        "__import__('os').system('touch {marker}') > 0",
        "np.os.system('touch {marker}') > 0",
        "Days.__class__ > 0",
        "getattr(Days, 'real') > 0",
        "(lambda: Days)() > 0",
        "[Days][0] > 1",
        "f'{{Days}}' > 1",
        "Days if Days else 0 > 1",
        "open('{marker}', 'w') > 0",
        "Dаys > 1",  # Cyrillic 'а': a look-alike is just an unknown name
    ],
)
def test_statements_that_are_not_arithmetic_are_refused(sleep_fit, statement, tmp_path):
    marker = tmp_path / "ran"
    with pytest.raises(bm.FormulaError):
        sleep_fit.hypothesis(statement.format(marker=marker))
    assert not marker.exists()


def test_errors_name_the_problem_and_its_position(sleep_fit):
    with pytest.raises(bm.FormulaError, match="'Dayz' is not a parameter") as e:
        sleep_fit.hypothesis("Days = `Dayz`")
    assert e.value.position == 7
    with pytest.raises(bm.FormulaError, match="compares two expressions"):
        sleep_fit.hypothesis("Days")
    with pytest.raises(bm.FormulaError, match="compares two expressions"):
        sleep_fit.hypothesis("0 < Days < 5")
    with pytest.raises(bm.ArgumentError):
        sleep_fit.hypothesis("")
