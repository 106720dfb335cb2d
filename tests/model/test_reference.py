"""Posterior fits against lme4 and brms on the classic datasets (4 chains x 1000 draws).

Tolerances:
* lme4 (default bayesmix priors): each population effect's posterior mean within
  0.3 posterior SD of lme4's REML estimate (the data dominate these weak
  priors; the difference between a posterior mean and the REML estimate is a
  small fraction of the posterior SD), and every lme4 SD estimate inside the
  central 95% interval of its posterior.
* brms (the same priors set explicitly, see ``brms.json``): posterior means
  within 0.15 posterior SD and posterior SDs within 15%.  With bulk ESS >= 400
  in both fits the Monte Carlo SE of each mean is <= 0.05 SD, so the
  difference of two independent runs has SD <= 0.07 SD: 0.15 is > 2 of those;
  an SD estimate's relative MC error is about 1/sqrt(2 ESS) <= 3.5%.
* every R-hat <= 1.01, group effects included; no divergences.
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow

LME4 = [
    ("sleepstudy", "sleepstudy_reml"),
    ("radon_intercept", "radon_intercept_reml"),
    ("radon_slope", "radon_slope_reml"),
    ("dyestuff", "dyestuff_reml"),
    ("penicillin", "penicillin_reml"),
    ("pastes", "pastes_reml"),
    ("insteval_dept", "insteval_me1_reml"),
    ("insteval_slope_only", "insteval_me2_reml"),
    ("insteval_slope", "insteval_me3_reml"),
]

BRMS = [
    ("sleepstudy", "sleepstudy"),
    ("radon_slope", "radon_slope"),
    ("penicillin", "penicillin"),
    ("pastes", "pastes"),
]


def lme4_term(name: str) -> str:
    return {"(Intercept)": "Intercept", "service1": "service[T.1]"}.get(name, name)


def lme4_group(name: str) -> str:
    # lme4 names the nested factor of (1 | batch/cask) "cask:batch"
    return ":".join(reversed(name.split(":"))) if ":" in name else name


def brms_priors(entry: dict, fit_terms) -> dict:
    """bayesmix prior overrides equal to the brms defaults listed in brms.json."""
    priors = {}
    for p in entry["priors"]:
        if p["coef"] or p["group"]:
            continue
        cls = {"Intercept": "Intercept", "sd": "sd", "sigma": "sigma", "L": "cor", "b": "b"}[p["class"]]
        if cls == "b":
            if any(t != "Intercept" for t in fit_terms):
                priors["b"] = p["prior"] or "flat"
        elif p["prior"]:
            priors[cls] = p["prior"]
    return priors


@pytest.mark.parametrize("spec, key", LME4)
def test_against_lme4(fits, lme4_ref, spec, key):
    fit = fits.spec(spec)
    ref = lme4_ref[key]
    fx = fit.fixef()
    for term, value in ref["fixef"].items():
        row = fx.loc[lme4_term(term)]
        assert abs(row["mean"] - value) <= 0.3 * row["sd"], (term, row["mean"], value, row["sd"])
    vc = fit.varcorr()
    for r in ref["varcorr"]:
        if r["var2"] is not None:
            continue
        idx = (
            ("Residual", "sigma", "")
            if r["grp"] == "Residual"
            else (lme4_group(r["grp"]), lme4_term(r["var1"]), "")
        )
        row = vc.loc[idx]
        assert row["q2.5"] <= r["sdcor"] <= row["q97.5"], (idx, r["sdcor"], row["q2.5"], row["q97.5"])
    table = fit.summary(ranef=True)
    assert table["rhat"].max() <= 1.01, table["rhat"].idxmax()
    assert fit.convergence["divergences"] == 0


@pytest.mark.parametrize("spec, key", BRMS)
def test_against_brms_with_brms_priors(fits, brms_ref, spec, key):
    entry = brms_ref[key]
    base = fits.spec(spec)
    fit = fits.spec(spec, priors=brms_priors(entry, base.design.terms), key=f"{spec}-brms")
    table = fit.summary()
    for s in entry["summary"]:
        row = table.loc[s["variable"]]
        assert abs(row["mean"] - s["mean"]) <= 0.15 * s["sd"], (
            s["variable"],
            row["mean"],
            s["mean"],
            s["sd"],
        )
        assert abs(row["sd"] / s["sd"] - 1) <= 0.15, (s["variable"], row["sd"], s["sd"])
    assert table["rhat"].max() <= 1.01
    # the brms priors are in force
    assert fit.model.priors["Intercept"].dist == "student_t"


def test_posterior_sd_of_group_effects_shrinks_with_rows(sleep_fit):
    """A subject with 10 rows has a much tighter deviation than the population SD."""
    re = sleep_fit.ranef("Subject")
    sd_int = sleep_fit.varcorr().loc[("Subject", "Intercept", ""), "mean"]
    assert np.all(re.xs("Intercept", level="coef")["sd"] < sd_int)
