"""Declarative model specs (TOML) for the command line.

A spec has four tables::

    [data]
    dataset = "sleepstudy"        # a bundled dataset, or
    # path = "my.csv"             # a CSV file, relative to the spec
    # labels = ["Subject"]        # CSV columns to read as labels

    [model]
    formula = "Reaction ~ Days + (Days | Subject)"
    family = "gaussian"
    centered = "auto"             # or true/false, or a table: {Subject = true}

    [level2.county]               # optional level-two formulas per factor and coefficient
    Intercept = "~ log_uranium"

    [priors]                      # optional overrides, brms names
    sd = "student_t(3, 0, 50)"

    [sampler]                     # optional; these are the defaults
    draws = 1000
    tune = 1000
    chains = 4
    seed = 1
    target_accept = 0.9
    sampler = "nutpie"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bayesmix import datasets
from bayesmix.errors import SpecError

__all__ = ["ModelSpec", "load_spec"]

_SAMPLER_KEYS = {"draws", "tune", "chains", "seed", "target_accept", "sampler", "cores", "adaptation"}


@dataclass(frozen=True)
class ModelSpec:
    """A parsed spec file."""

    path: Path
    name: str
    formula: str
    family: str = "gaussian"
    centered: str | bool | dict = "auto"
    dataset: str | None = None
    csv: Path | None = None
    labels: tuple[str, ...] = ()
    priors: dict = field(default_factory=dict)
    sampler: dict = field(default_factory=dict)
    level2: dict = field(default_factory=dict)

    def load_data(self) -> pd.DataFrame:
        """The data the spec names."""
        if self.dataset is not None:
            return datasets.load(self.dataset)
        if not self.csv.exists():
            raise SpecError(f"{self.path}: data file {str(self.csv)!r} does not exist")
        return pd.read_csv(self.csv, dtype=dict.fromkeys(self.labels, str))


def load_spec(path: str | Path) -> ModelSpec:
    """Read and check a TOML spec.

    Raises
    ------
    SpecError
        Naming the file and the missing or unknown key.
    """
    path = Path(path)
    if not path.exists():
        raise SpecError(f"spec file {str(path)!r} does not exist")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from None
    unknown = set(raw) - {"data", "model", "priors", "sampler", "name", "level2"}
    if unknown:
        raise SpecError(f"{path}: unknown table(s) {sorted(unknown)}; expected data, model, priors, sampler")
    data = raw.get("data", {})
    model = raw.get("model", {})
    if "formula" not in model:
        raise SpecError(f"{path}: [model] needs a 'formula'")
    if ("dataset" in data) == ("path" in data):
        raise SpecError(f"{path}: [data] needs exactly one of 'dataset' (bundled) or 'path' (CSV)")
    if "dataset" in data and data["dataset"] not in datasets.NAMES:
        raise SpecError(f"{path}: unknown dataset {data['dataset']!r}; bundled: {list(datasets.NAMES)}")
    bad = set(raw.get("sampler", {})) - _SAMPLER_KEYS
    if bad:
        raise SpecError(f"{path}: unknown [sampler] key(s) {sorted(bad)}; known: {sorted(_SAMPLER_KEYS)}")
    csv = (path.parent / data["path"]) if "path" in data else None
    return ModelSpec(
        path=path,
        name=raw.get("name", path.stem),
        formula=model["formula"],
        family=model.get("family", "gaussian"),
        centered=model.get("centered", "auto"),
        dataset=data.get("dataset"),
        csv=csv,
        labels=tuple(data.get("labels", ())),
        priors=dict(raw.get("priors", {})),
        sampler=dict(raw.get("sampler", {})),
        level2=dict(raw.get("level2", {})),
    )
