"""Parse lme4-style model formulas into a plain, immutable spec.

The population-level part of a formula is handed to formulaic unchanged
(so ``a*b``, ``C(x)``, ``np.log(x)``, ``center(x)``, ``scale(x)`` all work as
formulaic documents them); this module only finds the ``(expr | factor)``
bar terms, expands their grouping side (``a/b`` and ``a:b``) and records the
response expression.

>>> spec = parse_formula("Reaction ~ Days + (Days | Subject)")
>>> spec.response.expr, spec.fixed, spec.groups[0].factor
('Reaction', 'Days', 'Subject')
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bayesmix.errors import FormulaError
from bayesmix.spec.language import MAX_LENGTH, check_expression, check_side

_IDENT = re.compile(r"[^\W\d][\w.]*$")


@dataclass(frozen=True)
class GroupTerm:
    """One ``(expr | factor)`` term after expansion.

    Attributes
    ----------
    expr : str
        The varying-coefficient side, a formulaic formula such as ``"1 + Days"``.
    factors : tuple of str
        Data columns whose label combination defines the groups
        (``("batch", "cask")`` for ``batch:cask``).
    correlated : bool
        False for ``||`` terms (independent standard deviations).
    position : int
        Offset of the term in the formula text, for error messages.
    """

    expr: str
    factors: tuple[str, ...]
    correlated: bool
    position: int

    @property
    def factor(self) -> str:
        """The grouping factor's name, e.g. ``"batch:cask"``."""
        return ":".join(self.factors)


@dataclass(frozen=True)
class Response:
    """The left-hand side of a formula.

    Attributes
    ----------
    expr : str
        The outcome expression (a column or a formulaic expression); for
        ``cbind(s, f)`` the successes, for ``s | trials(n)`` the successes.
    kind : str
        ``"plain"``, ``"cbind"`` (successes, failures) or ``"trials"``.
    other : str or None
        Failures expression for ``cbind``, trials expression for ``trials``.
    """

    expr: str
    kind: str = "plain"
    other: str | None = None


@dataclass(frozen=True)
class FormulaSpec:
    """A parsed formula: the response, the population part and the bar terms.

    Attributes
    ----------
    text : str
        The formula as written.
    response : Response
        The left-hand side.
    fixed : str
        Right-hand side of the population part, in formulaic syntax.
    groups : tuple of GroupTerm
        The group-level terms, after ``/`` expansion, in formula order.
    offsets : tuple of str
        Expressions of ``offset(...)`` terms (added to the linear predictor
        with coefficient 1, e.g. ``np.log(exposure)``).
    """

    text: str
    response: Response
    fixed: str
    groups: tuple[GroupTerm, ...]
    offsets: tuple[str, ...] = ()

    @property
    def factors(self) -> tuple[str, ...]:
        """Names of the grouping factors, without repeats, in formula order."""
        return tuple(dict.fromkeys(g.factor for g in self.groups))


def _check_parens(text: str) -> None:
    depth = 0
    opened: list[int] = []
    for i, ch in enumerate(text):
        if ch == "(":
            opened.append(i)
            depth += 1
        elif ch == ")":
            if not opened:
                raise FormulaError("unmatched ')'", text, i)
            opened.pop()
    if opened:
        raise FormulaError("unclosed '('", text, opened[-1])


def _split_top(text: str, sep: str, offset: int = 0) -> list[tuple[str, int]]:
    """Split ``text`` at top-level (outside parentheses) occurrences of ``sep``.

    Returns the pieces with their absolute start offsets.
    """
    pieces: list[tuple[str, int]] = []
    depth = 0
    start = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            pieces.append((text[start:i], offset + start))
            i += len(sep)
            start = i
            continue
        i += 1
    pieces.append((text[start:], offset + start))
    return pieces


def _signed_terms(rhs: str, offset: int) -> list[tuple[str, str, int]]:
    """The right-hand side's terms with their sign: ``x + (1|g) - 1`` -> +x, +(1|g), -1."""
    out = []
    for piece, pos in _split_top(rhs, "+", offset):
        parts = _split_top(piece, "-", pos)
        first, fpos = parts[0]
        if first.strip() or len(parts) == 1:
            out.append(("+", first, fpos))
        for sub, spos in parts[1:]:
            out.append(("-", sub, spos))
    return out


def _find_bar(inner: str) -> tuple[int, bool] | None:
    """Position of the top-level ``|`` or ``||`` in a bar term, and whether it is double."""
    depth = 0
    for i, ch in enumerate(inner):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            double = i + 1 < len(inner) and inner[i + 1] == "|"
            return i, double
    return None


def _strip(piece: str, offset: int) -> tuple[str, int]:
    lead = len(piece) - len(piece.lstrip())
    return piece.strip(), offset + lead


def _parse_factor(text: str, formula: str, offset: int) -> list[tuple[str, ...]]:
    """Expand a grouping side: ``a`` -> [a]; ``a/b`` -> [a, a:b]; ``a:b`` -> [a:b]."""
    nested = _split_top(text, "/", offset)
    result: list[tuple[str, ...]] = []
    prefix: tuple[str, ...] = ()
    for part, pos in nested:
        part, pos = _strip(part, pos)
        if not part:
            raise FormulaError("empty grouping factor after '|'", formula, pos)
        names: list[str] = []
        for name, npos in _split_top(part, ":", pos):
            name, npos = _strip(name, npos)
            if name.startswith("`") and name.endswith("`") and len(name) > 2:
                name = name[1:-1]
            elif not _IDENT.match(name):
                raise FormulaError(
                    f"grouping factor {name!r} must be a column name (or a:b, a/b of column names)",
                    formula,
                    npos,
                )
            names.append(name)
        prefix = prefix + tuple(names)
        result.append(prefix)
    return result


def _parse_response(lhs: str, formula: str, offset: int) -> Response:
    if not lhs.strip():
        raise FormulaError("the formula has no response on the left of '~'", formula, offset)
    lhs, offset = _strip(lhs, offset)
    bar = _find_bar(lhs)
    if bar is not None:
        i, double = bar
        left, right = lhs[:i].strip(), lhs[i + (2 if double else 1) :].strip()
        m = re.fullmatch(r"trials\s*\((.+)\)", right)
        if double or not left or m is None:
            raise FormulaError(
                "a '|' on the left of '~' must read 'successes | trials(n)'", formula, offset + i
            )
        check_expression(left, formula, offset)
        check_expression(m.group(1).strip(), formula, offset + i)
        return Response(expr=left, kind="trials", other=m.group(1).strip())
    m = re.fullmatch(r"cbind\s*\((.*)\)", lhs, flags=re.S)
    if m is not None:
        inner_off = offset + lhs.index("(") + 1
        args = _split_top(m.group(1), ",", inner_off)
        if len(args) != 2 or not all(a.strip() for a, _ in args):
            raise FormulaError(
                "cbind() takes exactly two arguments: cbind(successes, failures)", formula, offset
            )
        for arg, apos in args:
            check_expression(arg.strip(), formula, apos + len(arg) - len(arg.lstrip()))
        return Response(expr=args[0][0].strip(), kind="cbind", other=args[1][0].strip())
    check_expression(lhs, formula, offset)
    return Response(expr=lhs)


def parse_formula(text: str) -> FormulaSpec:
    """Parse an lme4-style formula.

    Parameters
    ----------
    text : str
        For example ``"y ~ x + (1 + x | g) + (1 | a/b)"``.

    Returns
    -------
    FormulaSpec

    Raises
    ------
    FormulaError
        With the position of the problem in the text.
    """
    if not isinstance(text, str):
        raise FormulaError(f"a formula must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"the formula is longer than {MAX_LENGTH} characters", text, 0)
    _check_parens(text)
    head = text.lstrip()
    if head.startswith(("bf(", "brmsformula(")):
        raise FormulaError(
            "brms's bf() formulas are not supported: bayesmix models the mean (and for ordinal data "
            "the cutpoints) with one formula; write the mean's formula alone, e.g. 'y ~ x + (1 | g)', "
            "and choose the family (e.g. family='student'); distributional parts such as 'sigma ~ x' "
            "are not available",
            text,
            text.index(head[0]),
        )
    sides = _split_top(text, "~")
    if len(sides) == 1:
        raise FormulaError("the formula has no '~' separating response and predictors", text, 0)
    if len(sides) > 2:
        raise FormulaError("the formula has more than one '~'", text, sides[2][1] - 1)
    (lhs, lhs_off), (rhs, rhs_off) = sides
    response = _parse_response(lhs, text, lhs_off)

    fixed_parts: list[tuple[str, str]] = []
    groups: list[GroupTerm] = []
    offsets: list[str] = []
    rhs_stripped, _ = _strip(rhs, rhs_off)
    if not rhs_stripped:
        raise FormulaError("nothing on the right of '~'", text, len(text))
    for sign, piece, pos in _signed_terms(rhs, rhs_off):
        term, tpos = _strip(piece, pos)
        if not term:
            if sign == "-":
                raise FormulaError("nothing after '-'", text, pos)
            raise FormulaError("empty term (two '+' in a row, or a trailing '+')", text, pos)
        is_bar = False
        if term.startswith("(") and term.endswith(")"):
            # the whole term must be one parenthesised group
            depth = 0
            closes_at_end = True
            for i, ch in enumerate(term):
                depth += ch == "("
                depth -= ch == ")"
                if depth == 0 and i < len(term) - 1:
                    closes_at_end = False
                    break
            inner = term[1:-1]
            bar = _find_bar(inner) if closes_at_end else None
            if bar is not None:
                is_bar = True
                i, double = bar
                ipos = tpos + 1
                expr, epos = _strip(inner[:i], ipos)
                fac_text = inner[i + (2 if double else 1) :]
                fac_off = ipos + i + (2 if double else 1)
                if not expr:
                    raise FormulaError(
                        "nothing before '|' in a group term: write (1 | g) for a varying intercept",
                        text,
                        ipos + i,
                    )
                if "|" in fac_text:
                    raise FormulaError("more than one '|' in a group term", text, fac_off)
                check_side(expr, text, epos)
                if sign == "-":
                    raise FormulaError("a group term cannot be removed with '-'", text, tpos)
                for factors in _parse_factor(fac_text, text, fac_off):
                    groups.append(GroupTerm(expr, factors, not double, tpos))
        elif _find_bar(term) is not None:
            bar_at = tpos + _find_bar(term)[0]
            raise FormulaError("a group term must be in parentheses, as in (1 + x | g)", text, bar_at)
        m = re.fullmatch(r"offset\s*\((.*)\)", term, flags=re.S) if not is_bar else None
        if m is not None:
            if not m.group(1).strip():
                raise FormulaError("offset() needs an expression, e.g. offset(np.log(exposure))", text, tpos)
            inner = m.group(1)
            check_expression(
                inner.strip(), text, tpos + term.index("(") + 1 + len(inner) - len(inner.lstrip())
            )
            offsets.append(inner.strip())
        elif not is_bar:
            check_side(term, text, tpos)
            fixed_parts.append((sign, term))
    fixed = ""
    for sign, term in fixed_parts:
        fixed += (f" {sign} " if fixed else ("-" if sign == "-" else "")) + term
    fixed = fixed or "1"
    return FormulaSpec(
        text=text, response=response, fixed=fixed, groups=tuple(groups), offsets=tuple(offsets)
    )
