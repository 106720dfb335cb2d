"""Posterior probabilities of statements about parameters (brms's ``hypothesis()``).

A statement compares two arithmetic expressions of parameters: ``"Days > 5"``,
``"Days - 2 * `Days:cond` < 0"``, ``"sd_Subject__Days = 5"``.  Names are population
terms (``Days``, ``Intercept``; terms that are not plain names, such as interactions,
in backticks), brms labels (``b_Days``, ``sd_Subject__Intercept``,
``cor_Subject__Intercept__Days``) or ``sigma``.  The statement is parsed into a syntax
tree and evaluated by walking it over numpy arrays with an allow-list of node types
(numbers, names, ``+ - * / **``, unary minus, one comparison): nothing the user writes is
executed as code.

For each statement the draws of ``lhs - rhs`` are summarised: estimate (posterior
mean), error (SD), the central interval, and for ``<``/``>`` the posterior probability
of the statement with its evidence ratio ``p / (1 - p)``.  A point hypothesis (``=``)
gets no probability (it would need a Bayes factor against the prior): its interval
says whether the value is plausible.
"""

from __future__ import annotations

import ast
import re

import numpy as np
import pandas as pd

from bayesmix.core import names
from bayesmix.errors import FormulaError, argument_error
from bayesmix.spec.design import Design

__all__ = ["hypothesis", "parameter_draws"]

_OPS = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide, ast.Pow: np.power}
_CMP = {ast.Gt: ">", ast.GtE: ">", ast.Lt: "<", ast.LtE: "<", ast.Eq: "="}
_BACKTICK = re.compile(r"`([^`]*)`")


def parameter_draws(post, design: Design) -> dict[str, np.ndarray]:
    """Flattened draws (chain x draw) of every parameter a statement may name."""
    out: dict[str, np.ndarray] = {}
    if names.B in post:
        b = post[names.B].transpose("chain", "draw", names.TERM).values
        for i, t in enumerate(design.terms):
            out[t] = out[names.b_label(t)] = b[..., i].ravel()
    for f in design.factors:
        sd = post[names.sd_var(f.name)].transpose("chain", "draw", names.coef_dim(f.name)).values
        for i, c in enumerate(f.coefs):
            out[names.sd_label(f.name, c)] = sd[..., i].ravel()
        if f.cor_pairs():
            cor = post[names.cor_var(f.name)].transpose("chain", "draw", names.cor_dim(f.name)).values
            for p, (i, j) in enumerate(f.cor_pairs()):
                out[names.cor_label(f.name, f.coefs[i], f.coefs[j])] = cor[..., p].ravel()
    for aux in names.AUX_SCALARS:
        if aux in post:
            out[aux] = post[aux].values.ravel()
    if names.CUTPOINTS in post:
        cuts = post[names.CUTPOINTS].transpose("chain", "draw", names.CUTPOINT).values
        for k in range(cuts.shape[-1]):
            out[f"{names.CUTPOINTS}[{k + 1}]"] = cuts[..., k].ravel()
    return out


def _parse(statement: str) -> tuple[ast.AST, ast.AST, str, tuple]:
    """Split ``statement`` into its two sides and comparison; map placeholder names to parameters."""
    if not isinstance(statement, str) or not statement.strip():
        raise argument_error("hypothesis", statement, "a statement such as 'Days > 5'")
    aliases: dict[str, str] = {}

    def quote(m: re.Match) -> str:
        key = f"_q{len(aliases)}_"
        key += "x" * max(0, len(m.group(0)) - len(key))  # as long as the quoted text: positions stay
        aliases[key] = m.group(1)
        return key

    text = _BACKTICK.sub(quote, statement)
    if "`" in text:
        raise FormulaError("unmatched backtick", statement, text.index("`"))
    # '=' (brms's point hypothesis) becomes '==' for the parser; positions after it shift by one
    eq = re.search(r"(?<![<>=!])=(?!=)", text)
    parsed = text if eq is None else text[: eq.start()] + "==" + text[eq.end() :]
    lead = len(parsed) - len(parsed.lstrip())

    def position(col: int | None) -> int | None:
        """A column of the parsed text as a position in the user's statement."""
        if col is None:
            return None
        col += lead
        return col - 1 if eq is not None and col > eq.start() else col

    try:
        tree = ast.parse(parsed.strip(), mode="eval")
    except SyntaxError as e:
        off = None if e.offset is None else position(e.offset - 1)
        raise FormulaError(f"not a statement about parameters ({e.msg})", statement, off) from None
    node = tree.body
    if not isinstance(node, ast.Compare) or len(node.ops) != 1 or type(node.ops[0]) not in _CMP:
        raise FormulaError(
            "a hypothesis compares two expressions with one of <, >, <=, >=, = (e.g. 'Days > 5')",
            statement,
            None,
        )
    return node.left, node.comparators[0], _CMP[type(node.ops[0])], (aliases, position)


def _evaluate(node: ast.AST, draws: dict, context: tuple, statement: str):
    """Walk the syntax tree over arrays; only the allow-listed node types are accepted."""
    aliases, position = context
    pos = position(getattr(node, "col_offset", None))
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    ):
        return float(node.value)
    if isinstance(node, ast.Name):
        name = aliases.get(node.id, node.id)
        if name not in draws:
            close = [k for k in draws if k.lower() == name.lower()] or sorted(draws)[:8]
            raise FormulaError(
                f"{name!r} is not a parameter of this model (parameters include {close})", statement, pos
            )
        return draws[name]
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left = _evaluate(node.left, draws, context, statement)
        right = _evaluate(node.right, draws, context, statement)
        return _OPS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _evaluate(node.operand, draws, context, statement)
        return -value if isinstance(node.op, ast.USub) else value
    raise FormulaError(
        "a hypothesis may hold only parameter names, numbers, + - * / ** and parentheses", statement, pos
    )


def hypothesis(post, design: Design, statements, prob: float = 0.95) -> pd.DataFrame:
    """Evaluate one statement or a list of them; see the module docstring.

    Returns
    -------
    pandas.DataFrame
        Indexed by the statement, brms's columns: ``Estimate``, ``Est.Error``, the
        interval ``CI.Lower``/``CI.Upper``, ``Evid.Ratio``, ``Post.Prob`` and ``Star``
        (``*`` when the interval excludes 0 for ``=``, or the probability exceeds
        ``prob`` for ``<``/``>``).
    """
    if not 0 < prob < 1:
        raise argument_error("prob", prob, "a number strictly between 0 and 1")
    if isinstance(statements, str):
        statements = [statements]
    draws = parameter_draws(post, design)
    lo, hi = (1 - prob) / 2, 1 - (1 - prob) / 2
    rows = {}
    for st in statements:
        left, right, op, context = _parse(st)
        d = np.broadcast_to(
            np.asarray(_evaluate(left, draws, context, st), float)
            - np.asarray(_evaluate(right, draws, context, st), float),
            next(iter(draws.values())).shape,
        )
        ci = np.quantile(d, [lo, hi])
        if op == "=":
            p = ratio = np.nan
            star = bool(ci[0] > 0 or ci[1] < 0)
        else:
            p = float(np.mean(d > 0) if op == ">" else np.mean(d < 0))
            ratio = np.inf if p == 1 else p / (1 - p)
            star = p > prob
        rows[st.strip()] = {
            "Estimate": float(d.mean()),
            "Est.Error": float(d.std(ddof=1)),
            "CI.Lower": float(ci[0]),
            "CI.Upper": float(ci[1]),
            "Evid.Ratio": ratio,
            "Post.Prob": p,
            "Star": "*" if star else "",
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "hypothesis"
    return out
