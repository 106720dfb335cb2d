"""The one exception hierarchy of bayesmix.

Every error a user can cause derives from :class:`BayesmixError`, so
``except bayesmix.BayesmixError`` catches them all.  The concrete classes
also derive from the matching built-in (``ValueError``, ``KeyError``...)
so code written against the built-ins keeps working.
"""

from __future__ import annotations


class BayesmixError(Exception):
    """Base class of every error raised by bayesmix for a user's mistake."""


class FormulaError(BayesmixError, ValueError):
    """A model formula that cannot be parsed or does not fit the data.

    Parameters
    ----------
    message : str
        What is wrong.
    formula : str, optional
        The formula text; with ``position`` it is echoed with a caret.
    position : int, optional
        0-based character offset of the problem in ``formula``.
    """

    def __init__(self, message: str, formula: str | None = None, position: int | None = None):
        self.formula = formula
        self.position = position
        text = message
        if formula is not None and position is not None:
            pos = max(0, min(position, len(formula)))
            text = f"{message} (at position {pos})\n    {formula}\n    {' ' * pos}^"
        elif formula is not None:
            text = f"{message}\n    in formula: {formula}"
        super().__init__(text)


class DataError(BayesmixError, ValueError):
    """The data do not fit the model: missing or wrong-typed columns, bad values."""


class PriorError(BayesmixError, ValueError):
    """A prior specification that cannot be parsed or names nothing in the model."""


class SpecError(BayesmixError, ValueError):
    """A declarative model spec (TOML) that is incomplete or malformed."""


class SamplingError(BayesmixError, RuntimeError):
    """The sampler could not start or failed (for example no finite initial point)."""


class FitFileError(BayesmixError, ValueError):
    """A saved fit that cannot be loaded: missing, damaged, not a bayesmix file, or a newer format."""


class ConvergenceWarning(UserWarning):
    """Sampling finished but the diagnostics say the draws may not be trusted."""


def row_list(index, mask, limit: int = 5) -> str:
    """``"rows [3, 17]"``, or ``"rows [..5 labels..] and N more"``: the rows an error is about."""
    rows = list(index[mask][:limit])
    n = int(mask.sum())
    return f"rows {rows}" + (f" and {n - limit} more" if n > limit else "")


class ArgumentError(BayesmixError, ValueError):
    """A function or method argument with a value it cannot take."""


def argument_error(name: str, value: object, expected: str) -> ArgumentError:
    """Build the one message format used for bad arguments.

    Parameters
    ----------
    name : str
        Argument name.
    value : object
        The value received.
    expected : str
        What would have been accepted.
    """
    return ArgumentError(f"argument {name!r} got {value!r}; expected {expected}")
