"""What a study returns: one row per fit, one row per fit and parameter, and a summary.

Nothing is dropped: a failed fit has a row with its error, a non-converged one is
counted in the summary (``share_warned``), and an interrupted study says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["StudyResult", "tables_from_records", "recovery_summary", "binomial_se"]


@dataclass(frozen=True)
class StudyResult:
    """The outcome of a recovery, calibration or power study.

    Attributes
    ----------
    kind : str
        ``"recovery"``, ``"sbc"`` or ``"power"``.
    summary : pandas.DataFrame
        The study's answer (per parameter, or per design cell for power).
    fits : pandas.DataFrame
        One row per data set: error (None if it fitted), converged, divergences,
        max R-hat, min bulk ESS, seconds, the decision (power) and the design cell.
    estimates : pandas.DataFrame
        One row per data set and parameter: true value, posterior mean, SD, quantiles,
        rank of the true value among the draws.
    interrupted : bool
        True when the study was stopped before every fit finished.
    seconds : float
        Wall time of the whole study.
    """

    kind: str
    summary: pd.DataFrame
    fits: pd.DataFrame
    estimates: pd.DataFrame
    interrupted: bool = False
    seconds: float = 0.0
    attrs: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        n, failed = len(self.fits), int(self.fits["error"].notna().sum()) if len(self.fits) else 0
        head = f"{self.kind} study: {n} fits" + (f" ({failed} failed)" if failed else "")
        head += f" in {self.seconds:.1f} s" + (" -- INTERRUPTED, not complete" if self.interrupted else "")
        return f"{head}\n{self.summary.to_string()}"


def tables_from_records(records: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The per-fit and per-parameter tables of a study's records."""
    fit_rows, est_rows = [], []
    for rec in records:
        row = {"task": rec["task"], **rec.get("cell", {}), "error": rec.get("error")}
        for key in (
            "converged",
            "divergences",
            "max_rhat",
            "min_ess",
            "decision",
            "fit_seconds",
            "sampling_seconds",
            "seconds",
        ):
            row[key] = rec.get(key, np.nan)
        fit_rows.append(row)
        for label, vals in (rec.get("params") or {}).items():
            est_rows.append({"task": rec["task"], **rec.get("cell", {}), "parameter": label, **vals})
    fits = pd.DataFrame(fit_rows)
    if len(fits):
        fits["error"] = fits["error"].astype(object).where(fits["error"].notna(), None)
    return fits.set_index("task") if len(fits) else fits, pd.DataFrame(est_rows)


def binomial_se(p: float, n: int) -> float:
    """Monte Carlo SE of a proportion ``p`` over ``n`` independent fits."""
    return float(np.sqrt(p * (1 - p) / n)) if n else np.nan


def recovery_summary(fits: pd.DataFrame, est: pd.DataFrame) -> pd.DataFrame:
    """Per parameter: true value, bias, RMSE, 50% and 95% coverage with Monte Carlo SEs, warnings."""
    rows = {}
    if not len(est):
        return pd.DataFrame()
    warned = ~fits["converged"].astype(bool)
    for label, sub in est.groupby("parameter", sort=False):
        n = len(sub)
        err = sub["mean"] - sub["true"]
        c50 = float(((sub["q25"] <= sub["true"]) & (sub["true"] <= sub["q75"])).mean())
        c95 = float(((sub["q2.5"] <= sub["true"]) & (sub["true"] <= sub["q97.5"])).mean())
        rows[label] = {
            "true": float(sub["true"].mean()),
            "mean_estimate": float(sub["mean"].mean()),
            "bias": float(err.mean()),
            "bias_se": float(err.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan,
            "rmse": float(np.sqrt((err**2).mean())),
            "coverage50": c50,
            "coverage50_se": binomial_se(c50, n),
            "coverage95": c95,
            "coverage95_se": binomial_se(c95, n),
            "share_warned": float(warned.loc[sub["task"]].mean()),
            "n_fits": n,
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "parameter"
    out.attrs["n_failed"] = int(fits["error"].notna().sum())
    return out
