"""The formula language: what a formula may contain, and the only place formulaic evaluates one.

formulaic evaluates the Python parts of a formula (``np.log(x)``, ``I(x**2)``,
``C(g)``) with Python's ``eval``, with the whole ``numpy`` module and Python's
builtins in reach.  A formula is user text (and specs are files people share),
so bayesmix treats it as data in a small language, never as code:

* every formula (population part, group terms, response, offsets, level-two
  equations) is tokenised by formulaic's own tokenizer, and every token that
  formulaic would ``eval`` is parsed with :mod:`ast` and checked against an
  allow-list **before** anything evaluates it;
* names are data columns; the only callables are the transforms in
  :data:`FUNCTIONS` (``np.log``, ``center``, ``C``, ``I``, ``poly``...); there is
  no attribute access but those dotted names, no dunder names, no subscripts,
  lambdas, comprehensions, f-strings, starred or keyword-splat arguments;
* formulaic then evaluates in a namespace whose ``np``/``numpy``/``contr`` hold
  only the allowed functions (:func:`model_matrix`, :func:`encode`).

Inside ``I(...)`` (or formulaic's ``{...}``) arithmetic (``+ - * / // % **``),
comparisons and ``& | ~`` on columns and numeric or string constants are allowed.

>>> sorted(check_side("np.log(x) + I(x**2) + C(g, levels=['b', 'a'])"))
['g', 'x']
"""

from __future__ import annotations

import ast
import re
import types
import warnings
from collections.abc import Iterable

import numpy as np
from formulaic import Formula
from formulaic.errors import FormulaicError
from formulaic.parser import DefaultFormulaParser
from formulaic.parser.types import Token
from formulaic.transforms import TRANSFORMS

from bayesmix.errors import FormulaError

__all__ = [
    "FUNCTIONS",
    "MAX_LENGTH",
    "check_side",
    "check_expression",
    "model_matrix",
    "encode",
    "plain_message",
]

#: numpy functions a formula may call as ``np.<name>`` (or ``numpy.<name>``): pure elementwise maths
NUMPY_FUNCTIONS = (
    "abs",
    "absolute",
    "arcsin",
    "arcsinh",
    "arctan",
    "ceil",
    "clip",
    "cos",
    "exp",
    "exp2",
    "expm1",
    "floor",
    "log",
    "log10",
    "log1p",
    "log2",
    "maximum",
    "minimum",
    "power",
    "round",
    "sign",
    "sin",
    "sqrt",
    "square",
    "tanh",
)
#: formulaic's contrast codings, as ``contr.<name>``
CONTRASTS = ("treatment", "sum", "helmert", "poly", "diff")
#: bare transform names formulaic provides (patsy's contrast names included)
BARE_FUNCTIONS = (
    "I",
    "C",
    "center",
    "scale",
    "standardize",
    "poly",
    "bs",
    "cr",
    "cs",
    "cc",
    "log",
    "log10",
    "log2",
    "exp",
    "exp2",
    "Treatment",
    "Sum",
    "Helmert",
    "Diff",
    "Poly",
)
#: every callable a formula may name
FUNCTIONS = frozenset(
    BARE_FUNCTIONS
    + tuple(f"np.{n}" for n in NUMPY_FUNCTIONS)
    + tuple(f"numpy.{n}" for n in NUMPY_FUNCTIONS)
    + tuple(f"contr.{n}" for n in CONTRASTS)
)
#: longest formula accepted (characters); deeper or longer texts are refused before parsing
MAX_LENGTH = 5000
MAX_DEPTH = 50

_np_namespace = types.SimpleNamespace(**{n: getattr(np, n) for n in NUMPY_FUNCTIONS})
#: the evaluation namespace: it shadows formulaic's own ``np`` (the whole numpy module)
_CONTEXT: dict[str, object] = {
    "np": _np_namespace,
    "numpy": _np_namespace,
    "contr": types.SimpleNamespace(**{n: getattr(TRANSFORMS["contr"], n) for n in CONTRASTS}),
}

_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.BitAnd, ast.BitOr)
_UNARY = (ast.UAdd, ast.USub, ast.Invert, ast.Not)
_COMPARE = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)
_NODE_WORDS = {
    ast.Subscript: "subscripts ([...])",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.JoinedStr: "f-strings",
    ast.FormattedValue: "f-strings",
    ast.Starred: "starred arguments",
    ast.NamedExpr: "assignments (:=)",
    ast.Dict: "dictionaries",
    ast.Set: "sets",
    ast.IfExp: "conditional expressions (use I(...) with a comparison)",
    ast.BoolOp: "'and'/'or' (use & and |)",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "slices",
}
_BACKTICK = re.compile(r"`([^`]*)`")


def plain_message(exc: BaseException) -> str:
    """formulaic's message without its terminal colour codes and markers."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    return text.replace("⧛", "").replace("⧚", "").strip()


def _dotted(node: ast.AST) -> str | None:
    """``np.log`` for ``Attribute(Name('np'), 'log')``; None for anything but names and attributes."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _char_offset(source: str, node: ast.AST) -> int:
    """Character offset of ``node`` in a one-line ``source`` (ast counts UTF-8 bytes)."""
    col = getattr(node, "col_offset", 0) or 0
    return len(source.encode("utf-8")[:col].decode("utf-8", errors="ignore"))


def _check_python(token: str, formula: str, start: int, names: set[str]) -> None:
    """Check one token formulaic would ``eval``; add the data columns it names to ``names``."""
    aliases: dict[str, str] = {}

    def alias(m: re.Match) -> str:
        # a placeholder identifier as long as the backticked name, so offsets stay right
        i, key = len(aliases), "Q"
        while True:
            key += "abcdefghijklmnopqrstuvwxyz"[i % 26]
            i //= 26
            if i == 0:
                break
        key = key.ljust(len(m.group(0)), "_")
        aliases[key] = m.group(1)
        return key

    source = _BACKTICK.sub(alias, token.replace("\n", " "))
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        off = (exc.offset or 1) - 1
        raise FormulaError(f"cannot read {token!r}: {exc.msg}", formula, start + max(off, 0)) from None
    except (RecursionError, MemoryError):
        raise FormulaError("the expression is nested too deeply", formula, start) from None

    calls = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    dotted_ok: set[int] = set()  # Attribute/Name nodes that are part of an allowed dotted name

    for node in ast.walk(tree):
        where = start + _char_offset(source, node)
        if isinstance(node, ast.Expression | ast.Load | ast.keyword | ast.operator | ast.unaryop | ast.cmpop):
            continue
        if id(node) in dotted_ok:
            continue
        if isinstance(node, ast.Call):
            fname = _dotted(node.func)
            if fname not in FUNCTIONS:
                shown = fname or ast.unparse(node.func)
                raise FormulaError(
                    f"{shown!r} is not a function a formula may call (allowed: I, C, center, scale, "
                    "standardize, poly, bs, cr, cc, np.log, np.exp, np.sqrt and the other names in "
                    "bayesmix.language.FUNCTIONS)",
                    formula,
                    where,
                )
            numpy_call = fname.startswith(("np.", "numpy."))
            for kw in node.keywords:
                if kw.arg is None or kw.arg.startswith("_") or (numpy_call and kw.arg != "decimals"):
                    raise FormulaError(
                        f"keyword argument {kw.arg or '**'!r} is not allowed in a formula", formula, where
                    )
            continue
        if isinstance(node, ast.Attribute | ast.Name) and (id(node) in calls or _dotted(node) in FUNCTIONS):
            name = _dotted(node)
            if name in FUNCTIONS:
                sub = node
                while isinstance(sub, ast.Attribute):
                    dotted_ok.add(id(sub.value))
                    sub = sub.value
                continue
        if isinstance(node, ast.Attribute):
            name = _dotted(node)
            hint = f"; for a column named {name!r} write `{name}` in backticks" if name else ""
            raise FormulaError(
                f"attribute access {ast.unparse(node)!r} is not allowed in a formula{hint}", formula, where
            )
        if isinstance(node, ast.Name):
            real = aliases.get(node.id, node.id)
            if real.startswith("__"):
                raise FormulaError(f"the name {real!r} is not allowed in a formula", formula, where)
            names.add(real)
            continue
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, int | float | str | bool) and node.value is not None:
                raise FormulaError(f"the constant {node.value!r} is not allowed in a formula", formula, where)
            continue
        if isinstance(node, ast.BinOp):
            if not isinstance(node.op, _BINOPS):
                raise FormulaError(f"the operator in {ast.unparse(node)!r} is not allowed", formula, where)
            continue
        if isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, _UNARY):
                raise FormulaError(f"the operator in {ast.unparse(node)!r} is not allowed", formula, where)
            continue
        if isinstance(node, ast.Compare):
            if not all(isinstance(op, _COMPARE) for op in node.ops):
                raise FormulaError(f"the comparison {ast.unparse(node)!r} is not allowed", formula, where)
            continue
        if isinstance(node, ast.List | ast.Tuple):
            continue
        what = _NODE_WORDS.get(type(node), type(node).__name__)
        raise FormulaError(f"{what} are not allowed in a formula", formula, where)


def check_expression(expr: str, formula: str | None = None, start: int = 0) -> frozenset[str]:
    """Check a Python expression that bayesmix evaluates inside ``I(...)`` (a response, ``offset(...)``).

    Returns the data columns it names; raises :class:`FormulaError` like :func:`check_side`.
    """
    formula = expr if formula is None else formula
    if len(expr) > MAX_LENGTH:
        raise FormulaError(f"the formula is longer than {MAX_LENGTH} characters", formula, start)
    names: set[str] = set()
    _check_python(expr, formula, start, names)
    return frozenset(names)


def _tokens(text: str, formula: str, start: int) -> list[Token]:
    try:
        return list(DefaultFormulaParser().get_tokens(text))
    except (FormulaicError, SyntaxError) as exc:
        raise FormulaError(f"cannot read {text!r}: {plain_message(exc)}", formula, start) from None
    except (RecursionError, MemoryError):
        raise FormulaError("the formula is nested too deeply", formula, start) from None


def check_side(text: str, formula: str | None = None, start: int = 0) -> frozenset[str]:
    """Check one side of a formula (formulaic syntax) against the formula language.

    Parameters
    ----------
    text : str
        A formulaic formula without ``~`` (e.g. ``"Days + np.log(x)"`` or ``"1 + Days"``).
    formula : str, optional
        The whole formula ``text`` came from, for the error's caret (default: ``text``).
    start : int
        Offset of ``text`` in ``formula``.

    Returns
    -------
    frozenset of str
        The data columns the text names.

    Raises
    ------
    FormulaError
        Naming what is not allowed and where.
    """
    formula = text if formula is None else formula
    if not isinstance(text, str):
        raise FormulaError(f"a formula must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"the formula is longer than {MAX_LENGTH} characters", formula, start)
    depth = deepest = 0
    for ch in text:
        depth += ch in "([{"
        depth -= ch in ")]}"
        deepest = max(deepest, depth)
    if deepest > MAX_DEPTH:
        raise FormulaError(f"the formula nests parentheses deeper than {MAX_DEPTH}", formula, start)
    names: set[str] = set()
    for tok in _tokens(text, formula, start):
        pos = start + (tok.source_start or 0)
        kind = tok.kind.value if tok.kind is not None else ""
        if kind == "python":
            _check_python(tok.token, formula, pos, names)
        elif kind == "name":
            if tok.token.startswith("__"):
                raise FormulaError(f"the name {tok.token!r} is not allowed in a formula", formula, pos)
            names.add(tok.token)
        elif kind not in ("value", "operator", "context"):  # pragma: no cover - no other kind today
            # values are read with ast.literal_eval; operators and parentheses by formulaic's grammar
            raise FormulaError(f"cannot read {tok.token!r}", formula, pos)
    return frozenset(names)


def model_matrix(text: str, data, formula: str | None = None, start: int = 0):
    """Check ``text`` (:func:`check_side`) and build its formulaic model matrix on ``data``.

    formulaic's warnings are silenced (bayesmix checks categories and missing
    values itself); its errors become :class:`FormulaError`.

    Returns
    -------
    formulaic.ModelMatrix
        With its frozen ``model_spec`` for :func:`encode`.
    """
    check_side(text, formula, start)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Formula(text).get_model_matrix(data, context=_CONTEXT, na_action="ignore")
    except (FormulaicError, NameError, TypeError, ValueError, AttributeError, KeyError) as exc:
        raise FormulaError(f"cannot evaluate {text!r}: {plain_message(exc)}", formula or text) from None
    except (RecursionError, ArithmeticError) as exc:
        raise FormulaError(f"cannot evaluate {text!r}: {type(exc).__name__}", formula or text) from None


def encode(spec, data, formula: str | None = None):
    """Evaluate a frozen formulaic ``ModelSpec`` (from :func:`model_matrix`) on new data, as ndarray."""
    check_side(str(spec.formula), formula)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mm = spec.get_model_matrix(data, context=_CONTEXT, na_action="ignore")
    except (FormulaicError, NameError, TypeError, ValueError, AttributeError, KeyError) as exc:
        raise FormulaError(
            f"cannot evaluate the formula on these data: {plain_message(exc)}", formula
        ) from None
    return np.asarray(mm, dtype=float)


def columns_in(texts: Iterable[str]) -> frozenset[str]:
    """The data columns a collection of formula sides name."""
    out: set[str] = set()
    for t in texts:
        out |= check_side(t)
    return frozenset(out)
