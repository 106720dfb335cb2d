"""Declarative model specs (TOML) for the command line.

A spec has these tables; every key is checked (a typo is an error with a
"did you mean"), and every one reaches the model::

    name = "sleepstudy"           # optional: output folder name (a plain name); default the file's

    [data]
    dataset = "sleepstudy"        # a bundled dataset, or
    # path = "my.csv"             # a CSV file, relative to the spec
    # labels = ["Subject"]        # CSV columns to read as labels

    [model]
    formula = "Reaction ~ Days + (Days | Subject)"
    family = "gaussian"
    link = "logit"                # optional (probit for bernoulli)
    centered = "auto"             # or true/false, or a table: {Subject = true}
    na_action = "drop"            # or "raise"
    weights = "w"                 # optional: a column of row weights
    weights_kind = "frequency"    # or "analytic" (Gaussian)

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

A spec is data: its formulas go through the formula language
(:mod:`bayesmix.spec.language`) like any other, and nothing in it is executed.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bayesmix import datasets
from bayesmix.errors import SpecError

__all__ = ["ModelSpec", "load_spec"]

_TABLES = {"name", "data", "model", "priors", "sampler", "level2"}
_DATA_KEYS = {"dataset", "path", "labels"}
_MODEL_KEYS = {"formula", "family", "link", "centered", "na_action", "weights", "weights_kind"}
_SAMPLER_KEYS = {"draws", "tune", "chains", "seed", "target_accept", "sampler", "cores", "adaptation"}
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class ModelSpec:
    """A parsed spec file."""

    path: Path
    name: str
    formula: str
    family: str = "gaussian"
    link: str | None = None
    centered: str | bool | dict = "auto"
    na_action: str = "drop"
    weights: str | None = None
    weights_kind: str = "frequency"
    dataset: str | None = None
    csv: Path | None = None
    labels: tuple[str, ...] = ()
    priors: dict = field(default_factory=dict)
    sampler: dict = field(default_factory=dict)
    level2: dict = field(default_factory=dict)

    def load_data(self) -> pd.DataFrame:
        """The data the spec names.

        Raises
        ------
        SpecError
            A missing, unreadable or empty CSV file, in one line naming the file.
        """
        if self.dataset is not None:
            return datasets.load(self.dataset)
        if not self.csv.exists():
            raise SpecError(f"{self.path}: data file {str(self.csv)!r} does not exist")
        try:
            return pd.read_csv(self.csv, dtype=dict.fromkeys(self.labels, str))
        except UnicodeDecodeError as exc:
            raise SpecError(
                f"{self.path}: data file {str(self.csv)!r} is not UTF-8 text ({exc.reason})"
            ) from None
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, OSError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SpecError(f"{self.path}: cannot read data file {str(self.csv)!r}: {first}") from None

    def model_kwargs(self) -> dict:
        """Keyword arguments of :class:`bayesmix.Model` (besides formula and data) from this spec."""
        return {
            "family": self.family,
            "link": self.link,
            "priors": self.priors,
            "centered": self.centered,
            "na_action": self.na_action,
            "level2": self.level2 or None,
            "weights": self.weights,
            "weights_kind": self.weights_kind,
        }


def _unknown(path: Path, where: str, got, known) -> None:
    bad = sorted(set(got) - set(known))
    if not bad:
        return
    parts = []
    for key in bad:
        close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
        parts.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise SpecError(f"{path}: unknown key(s) in {where}: {', '.join(parts)}; known: {sorted(known)}")


def _table(raw: dict, key: str, path: Path) -> dict:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise SpecError(f"{path}: [{key}] must be a table, got {type(value).__name__}")
    return value


def _string(value, what: str, path: Path) -> str:
    if not isinstance(value, str):
        raise SpecError(f"{path}: {what} must be a string, got {type(value).__name__} {value!r}")
    return value


def load_spec(path: str | Path) -> ModelSpec:
    """Read and check a TOML spec.

    Raises
    ------
    SpecError
        Naming the file and the missing, mistyped or unknown key.
    """
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"spec file {str(path)!r} does not exist")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not UTF-8 text") from None
    _unknown(path, "the spec (top level)", raw, _TABLES)
    data, model = _table(raw, "data", path), _table(raw, "model", path)
    priors, sampler, level2 = (
        _table(raw, "priors", path),
        _table(raw, "sampler", path),
        _table(raw, "level2", path),
    )
    _unknown(path, "[data]", data, _DATA_KEYS)
    _unknown(path, "[model]", model, _MODEL_KEYS)
    _unknown(path, "[sampler]", sampler, _SAMPLER_KEYS)
    if "formula" not in model:
        raise SpecError(f"{path}: [model] needs a 'formula'")
    formula = _string(model["formula"], "[model] formula", path)
    if ("dataset" in data) == ("path" in data):
        raise SpecError(f"{path}: [data] needs exactly one of 'dataset' (bundled) or 'path' (CSV)")
    if "dataset" in data and data["dataset"] not in datasets.NAMES:
        raise SpecError(f"{path}: unknown dataset {data['dataset']!r}; bundled: {list(datasets.NAMES)}")
    labels = data.get("labels", [])
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise SpecError(f"{path}: [data] labels must be a list of column names")
    for key, value in priors.items():
        _string(value, f"[priors] {key}", path)
    for factor, eqs in level2.items():
        if not isinstance(eqs, dict):
            raise SpecError(f'{path}: [level2.{factor}] must be a table of coefficient = "~ formula"')
        for coef, text in eqs.items():
            _string(text, f"[level2.{factor}] {coef}", path)
    name = raw.get("name", path.stem)
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise SpecError(
            f"{path}: name must be a plain folder name (letters, digits, '_', '-', '.'; no path "
            f"separators or '..'), got {name!r}"
        )
    csv = None
    if "path" in data:
        csv = path.parent / _string(data["path"], "[data] path", path)
    return ModelSpec(
        path=path,
        name=name,
        formula=formula,
        family=_string(model.get("family", "gaussian"), "[model] family", path),
        link=model.get("link"),
        centered=model.get("centered", "auto"),
        na_action=_string(model.get("na_action", "drop"), "[model] na_action", path),
        weights=_string(model["weights"], "[model] weights", path) if "weights" in model else None,
        weights_kind=_string(model.get("weights_kind", "frequency"), "[model] weights_kind", path),
        dataset=data.get("dataset"),
        csv=csv,
        labels=tuple(labels),
        priors=dict(priors),
        sampler=dict(sampler),
        level2={f: dict(eqs) for f, eqs in level2.items()},
    )
