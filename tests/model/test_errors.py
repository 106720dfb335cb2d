"""Bad input gets a BayesmixError that names the problem, never a raw PyMC/PyTensor traceback."""

import numpy as np
import pandas as pd
import pytest

import bayesmix as bm


@pytest.fixture
def sleep():
    return bm.datasets.load("sleepstudy")


def test_unknown_column_suggests_close_names(sleep):
    with pytest.raises(bm.DataError, match=r"unknown predictor column 'Dayz'.*did you mean 'Days'"):
        bm.Model("Reaction ~ Dayz + (1 | Subject)", sleep)


def test_unknown_response_and_grouping_columns(sleep):
    with pytest.raises(bm.DataError, match="unknown response column 'reaction'.*'Reaction'"):
        bm.Model("reaction ~ Days + (1 | Subject)", sleep)
    with pytest.raises(bm.DataError, match="unknown grouping column 'Subj'.*'Subject'"):
        bm.Model("Reaction ~ Days + (1 | Subj)", sleep)


def test_slope_variable_missing_from_data(sleep):
    with pytest.raises(bm.DataError, match="unknown varying-coefficient column 'Nights'"):
        bm.Model("Reaction ~ Days + (Nights | Subject)", sleep)


def test_formula_syntax_error_shows_where(sleep):
    with pytest.raises(bm.FormulaError, match=r"unclosed '\('") as info:
        bm.Model("Reaction ~ Days + (Days | Subject", sleep)
    assert info.value.position == 18


def test_non_numeric_response(sleep):
    sleep["Reaction"] = sleep["Reaction"].astype(str) + "ms"
    with pytest.raises(bm.DataError, match="response 'Reaction' must be numeric"):
        bm.Model("Reaction ~ Days + (1 | Subject)", sleep)


def test_grouping_factor_with_one_level(sleep):
    sleep["Subject"] = "only"
    with pytest.raises(bm.DataError, match="grouping factor 'Subject' has a single level"):
        bm.Model("Reaction ~ Days + (1 | Subject)", sleep)


def test_rank_deficient_design_names_columns(sleep):
    sleep["Hours"] = sleep["Days"] * 24.0
    with pytest.raises(bm.DataError, match="column 'Hours' is a linear combination of 'Days'"):
        bm.Model("Reaction ~ Days + Hours + (1 | Subject)", sleep)


def test_rank_deficient_with_intercept(sleep):
    sleep["one"] = 1.0
    with pytest.raises(bm.DataError, match="'one' is a linear combination of 'Intercept'"):
        bm.Model("Reaction ~ Days + one + (1 | Subject)", sleep)


def test_non_finite_after_transform(sleep):
    with pytest.raises(bm.DataError, match=r"'np.log\(Days\)' has non-finite values"):
        bm.Model("Reaction ~ np.log(Days) + (1 | Subject)", sleep)


def test_missing_values_raise_option(sleep):
    sleep.loc[4, "Reaction"] = np.nan
    with pytest.raises(bm.DataError, match=r"missing values in 1 row\(s\) \(rows \[4\]"):
        bm.Model("Reaction ~ Days + (1 | Subject)", sleep, na_action="raise")
    with pytest.warns(UserWarning, match="dropped 1 of 180 rows"):
        m = bm.Model("Reaction ~ Days + (1 | Subject)", sleep)
    assert m.design.n_obs == 179


def test_bad_arguments_one_message_format(sleep):
    m = bm.Model("Reaction ~ Days + (1 | Subject)", sleep)
    for kwargs, name in [
        ({"draws": 0}, "draws"),
        ({"chains": 1.5}, "chains"),
        ({"target_accept": 1.2}, "target_accept"),
        ({"sampler": "stan"}, "sampler"),
        ({"seed": -3}, "seed"),
    ]:
        with pytest.raises(bm.ArgumentError, match=rf"argument '{name}' got .*; expected"):
            m.fit(**kwargs)
    with pytest.raises(bm.ArgumentError, match="argument 'family'"):
        bm.Model("Reaction ~ Days + (1 | Subject)", sleep, family="weibull")
    with pytest.raises(bm.ArgumentError, match="argument 'data'"):
        bm.Model("Reaction ~ Days + (1 | Subject)", sleep.to_dict())
    with pytest.raises(bm.ArgumentError, match="argument 'centered'"):
        bm.Model("Reaction ~ Days + (1 | Subject)", sleep, centered={"Subjct": True})
    with pytest.raises(bm.ArgumentError, match="argument 'centered'"):
        bm.Model("Reaction ~ Days + (1 | Subject)", sleep, centered="yes")


def test_bad_priors(sleep):
    f = "Reaction ~ Days + (Days | Subject)"
    with pytest.raises(bm.PriorError, match=r"'sd_Subjet' .*did you mean 'sd_Subject'"):
        bm.Model(f, sleep, priors={"sd_Subjet": "normal(0, 10)"})
    with pytest.raises(bm.PriorError, match="cannot read prior"):
        bm.Model(f, sleep, priors={"b": "normal 0 10"})
    with pytest.raises(bm.PriorError, match="must be positive"):
        bm.Model(f, sleep, priors={"b": "normal(0, -1)"})
    with pytest.raises(bm.PriorError, match="take an lkj"):
        bm.Model(f, sleep, priors={"cor": "normal(0, 1)"})
    with pytest.raises(bm.PriorError, match="centred on 0"):
        bm.Model(f, sleep, priors={"sigma": "normal(5, 1)"})
    with pytest.raises(bm.PriorError, match="needs a positive parameter"):
        bm.Model(f, sleep, priors={"b_Days": "exponential(1)"})


def test_every_error_is_a_bayesmix_error():
    for cls in (
        bm.FormulaError,
        bm.DataError,
        bm.PriorError,
        bm.ArgumentError,
        bm.SamplingError,
        bm.SpecError,
    ):
        assert issubclass(cls, bm.BayesmixError)


def test_convergence_warning_with_counts_and_advice(sleep):
    m = bm.Model("Reaction ~ Days + (Days | Subject)", sleep)
    with pytest.warns(bm.ConvergenceWarning, match=r"min bulk ESS is \d+ \(< 400\).*draw more"):
        m.fit(draws=30, tune=30, chains=2, seed=3, progressbar=False)


def test_constant_response(sleep):
    sleep["Reaction"] = 1.0
    with pytest.raises(bm.DataError, match="is constant"):
        bm.Model("Reaction ~ Days + (1 | Subject)", sleep)


def test_empty_data():
    with pytest.raises(bm.DataError, match="no rows"):
        bm.Model("y ~ x + (1|g)", pd.DataFrame({"y": [], "x": [], "g": []}))


def test_sampling_failure_names_the_non_finite_terms():
    m = bm.Model(
        "Yield ~ 1 + (1 | Batch)", bm.datasets.load("dyestuff"), priors={"sigma": "half_normal(1e-300)"}
    )
    with pytest.raises(
        bm.SamplingError, match="Non-finite at the starting point: .*sigma starts at 1e-300"
    ) as info:
        m.fit(draws=20, tune=20, chains=1, seed=1, progressbar=False)
    assert "Stack backtrace" not in str(info.value)
