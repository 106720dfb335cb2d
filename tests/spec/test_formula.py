import pytest

from bayesmix.errors import FormulaError
from bayesmix.spec.formula import parse_formula


def test_simple_slope_term():
    spec = parse_formula("Reaction ~ Days + (Days | Subject)")
    assert spec.response.expr == "Reaction"
    assert spec.fixed == "Days"
    (g,) = spec.groups
    assert (g.expr, g.factors, g.correlated) == ("Days", ("Subject",), True)


@pytest.mark.parametrize(
    "text, exprs",
    [
        ("y ~ x + (1|g)", ["1"]),
        ("y ~ x + (1 + x|g)", ["1 + x"]),
        ("y ~ x + (0 + x|g)", ["0 + x"]),
        ("y ~ x + (-1 + x|g)", ["-1 + x"]),
    ],
)
def test_bar_lhs_kept_for_formulaic(text, exprs):
    assert [g.expr for g in parse_formula(text).groups] == exprs


def test_double_bar_is_uncorrelated():
    (g,) = parse_formula("y ~ x + (x || g)").groups
    assert g.correlated is False


def test_nesting_expands_like_lme4():
    spec = parse_formula("y ~ 1 + (1 | a/b/c)")
    assert [g.factor for g in spec.groups] == ["a", "a:b", "a:b:c"]


def test_interaction_factor_and_crossed_terms():
    spec = parse_formula("y ~ lectage + service + (1|s) + (1|d) + (1|dept) + (1|a:b)")
    assert spec.factors == ("s", "d", "dept", "a:b")
    assert spec.fixed == "lectage + service"


def test_intercept_only_population_part():
    assert parse_formula("y ~ (1|g)").fixed == "1"


def test_binomial_responses():
    spec = parse_formula("cbind(inc, size - inc) ~ period + (1|herd)")
    assert (spec.response.kind, spec.response.expr, spec.response.other) == ("cbind", "inc", "size - inc")
    spec = parse_formula("inc | trials(size) ~ period + (1|herd)")
    assert (spec.response.kind, spec.response.other) == ("trials", "size")


@pytest.mark.parametrize(
    "text, message, position",
    [
        ("y ~ x + (1|g", "unclosed '('", 8),
        ("y ~ x + (1|g))", "unmatched ')'", 13),
        ("y x", "no '~'", 0),
        ("y ~ x ~ z", "more than one '~'", 6),
        ("y ~ x + 1|g", "must be in parentheses", 9),
        ("y ~ x + (|g)", "nothing before '|'", 9),
        ("y ~ x + (1|)", "empty grouping factor", 11),
        ("y ~ x ++ z", "empty term", 7),
        ("y ~ (1|g+h)", "must be a column name", 7),
        (" ~ x", "no response", 0),
    ],
)
def test_syntax_errors_name_the_position(text, message, position):
    with pytest.raises(FormulaError) as info:
        parse_formula(text)
    assert message in str(info.value)
    assert info.value.position == position
    # the caret line points at the position under the echoed formula
    lines = str(info.value).splitlines()
    assert lines[-1].index("^") - 4 == position
