"""Shared fixtures: reference values and fits cached for the whole session.

Compiling a model is most of a fit's cost, so each model is fitted once per
session and shared by every test that reads it.  Seeds are fixed.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

import bayesmix as bm  # noqa: E402
from bayesmix.spec.toml import load_spec  # noqa: E402

HERE = Path(__file__).parent
ROOT = HERE.parent
MODELS = ROOT / "models"


@pytest.fixture(scope="session")
def lme4_ref() -> dict:
    return json.loads((HERE / "reference" / "lme4.json").read_text())


@pytest.fixture(scope="session")
def brms_ref() -> dict:
    return json.loads((HERE / "reference" / "brms.json").read_text())


class FitCache:
    """Fits keyed by a name; each is computed once per session."""

    def __init__(self):
        self._fits: dict[str, bm.Fit] = {}

    def spec(self, name: str, priors: dict | None = None, key: str | None = None, **overrides) -> bm.Fit:
        """Fit ``models/<name>.toml`` (4 chains x 1000 draws, its seed), optionally with other priors."""
        key = key or name
        if key not in self._fits:
            spec = load_spec(MODELS / f"{name}.toml")
            model = bm.Model(
                spec.formula,
                spec.load_data(),
                family=spec.family,
                priors=priors if priors is not None else spec.priors,
                centered=spec.centered,
                level2=spec.level2 or None,
            )
            settings = {"draws": 1000, "tune": 1000, "chains": 4, "seed": 1, **spec.sampler, **overrides}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", bm.ConvergenceWarning)
                self._fits[key] = model.fit(progressbar=False, **settings)
        return self._fits[key]


@pytest.fixture(scope="session")
def fits() -> FitCache:
    return FitCache()


@pytest.fixture(scope="session")
def sleep_fit(fits) -> bm.Fit:
    return fits.spec("sleepstudy")
