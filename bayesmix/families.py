"""Response families: checking the response, default prior scales, the likelihood.

Only the Gaussian family (identity link) is available so far.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import DataError, argument_error

__all__ = ["Family", "Gaussian", "get_family"]


@dataclass(frozen=True)
class Family:
    """Base class of response families."""

    name: str = "family"
    link: str = "identity"
    has_sigma: bool = False

    def prepare(self, y: pd.Series, other: pd.Series | None) -> dict[str, np.ndarray]:
        """Check the response and return the arrays the likelihood needs."""
        raise NotImplementedError

    def scales(self, data: dict[str, np.ndarray]) -> tuple[float, float]:
        """(location, scale) of the response on the link scale, for default priors."""
        raise NotImplementedError


def _bad_rows(y: pd.Series, mask: np.ndarray, limit: int = 5) -> str:
    rows = list(y.index[mask][:limit])
    n = int(mask.sum())
    more = f" and {n - limit} more" if n > limit else ""
    vals = list(y[mask].iloc[:limit])
    return f"rows {rows}{more} (values {vals})"


@dataclass(frozen=True)
class Gaussian(Family):
    """Normal response with identity link and residual SD ``sigma``."""

    name: str = "gaussian"
    link: str = "identity"
    has_sigma: bool = True

    def prepare(self, y, other):
        if other is not None:
            raise DataError("cbind()/trials() responses need family='binomial'")
        if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
            sample = list(pd.unique(y)[:3])
            raise DataError(
                f"the response {y.name!r} must be numeric for the gaussian family; "
                f"it has dtype {y.dtype} (values such as {sample})"
            )
        arr = y.to_numpy(dtype=float)
        bad = ~np.isfinite(arr)
        if bad.any():
            raise DataError(f"the response {y.name!r} has non-finite values in {_bad_rows(y, bad)}")
        if np.std(arr) == 0:
            raise DataError(f"the response {y.name!r} is constant ({arr[0]!r}); nothing to model")
        return {"y": arr}

    def scales(self, data):
        y = data["y"]
        return float(np.mean(y)), float(np.std(y, ddof=1))


FAMILIES = {"gaussian": Gaussian, "normal": Gaussian}


def get_family(family: str | Family) -> Family:
    """Look up a family by name (or pass a :class:`Family` through)."""
    if isinstance(family, Family):
        return family
    if isinstance(family, str) and family.lower() in FAMILIES:
        return FAMILIES[family.lower()]()
    raise argument_error("family", family, f"one of {sorted(FAMILIES)}")
