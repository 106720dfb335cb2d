import numpy as np
import pymc as pm
import pytest
from pytensor.compile.mode import Mode

import bayesmix as bm


@pytest.fixture(scope="module")
def sleep_model():
    return bm.Model("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"))


def test_model_is_inspectable_before_sampling(sleep_model):
    m = sleep_model.pymc_model
    assert isinstance(m, pm.Model)
    assert m.coords["Subject"][:2] == ("308", "309")
    assert m.coords["Subject__coef"] == ("Intercept", "Days")
    assert m.named_vars_to_dims["r_Subject"] == ("Subject", "Subject__coef")
    assert m.named_vars_to_dims["b"] == ("term",)
    assert m.named_vars_to_dims["cor_Subject"] == ("Subject__cor",)
    # vectorised: one variable per factor, not one per group
    free = {v.name: v for v in m.free_RVs}
    # auto parameterisation: 10 rows per subject inform each subject well, so the subject
    # coefficients are centred on the population ones (_m_Subject, 18 x 2)
    assert set(free) == {"_Intercept_c", "_b", "sd_Subject", "_cpc_Subject", "_m_Subject", "sigma"}
    assert m.initial_point()["_m_Subject"].shape == (18, 2)
    # evaluated by PyTensor's Python linker: the same graph without a minute of machine-code compile
    assert np.isfinite(m.compile_logp(mode=Mode(linker="py", optimizer="fast_run"))(m.initial_point()))


def test_centred_option_per_factor():
    df = bm.datasets.load("pastes")
    m = bm.Model("strength ~ 1 + (1 | batch/cask)", df, centered={"batch": True})
    free = {v.name for v in m.pymc_model.free_RVs}
    # batch is centred on the population intercept (hierarchical centring), batch:cask non-centred
    assert "_m_batch" in free and "_z_batch:cask" in free
    m = bm.Model("strength ~ 1 + (1 | batch/cask)", df, centered=False)
    assert {"_z_batch", "_z_batch:cask"} <= {v.name for v in m.pymc_model.free_RVs}
    m = bm.Model("diameter ~ 1 + (1 | plate) + (1 | sample)", bm.datasets.load("penicillin"), centered=True)
    free = {v.name for v in m.pymc_model.free_RVs}
    assert {"_m_sample", "r_plate"} <= free  # the factor with fewer levels is centred on the intercept


def test_auto_parameterisation_follows_informativeness():
    from bayesmix.graph.parameterization import informativeness, resolve_centered

    pen = bm.Model("diameter ~ 1 + (1 | plate) + (1 | sample)", bm.datasets.load("penicillin"))
    lam = informativeness(pen.design, pen.response_data["y"])
    assert lam["sample"] > 0.95 and lam["plate"] > 0.9  # sigma 0.55 vs SDs 0.85 and 1.9
    assert resolve_centered("auto", pen.design, pen.response_data["y"]) == {"plate": True, "sample": True}
    pastes = bm.Model("strength ~ 1 + (1 | batch/cask)", bm.datasets.load("pastes"))
    # batch is weakly identified given its casks, and casks nest in batches: both non-centred
    assert resolve_centered("auto", pastes.design, pastes.response_data["y"]) == {
        "batch": False,
        "batch:cask": False,
    }


def test_uncorrelated_terms_have_no_correlation():
    m = bm.Model("Reaction ~ Days + (Days || Subject)", bm.datasets.load("sleepstudy"))
    names = set(m.pymc_model.named_vars)
    assert "cor_Subject" not in names and "_cpc_Subject" not in names


def test_prior_predictive_works_with_defaults(sleep_model):
    m = sleep_model.pymc_model
    with m:
        prior = pm.sample_prior_predictive(draws=50, random_seed=1, compile_kwargs={"mode": "FAST_COMPILE"})
    y = prior["prior_predictive"]["obs"].values
    assert y.shape == (1, 50, 180) and np.all(np.isfinite(y))
