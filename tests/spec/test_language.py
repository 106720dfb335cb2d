"""The formula language: formulas are data, never code (issue 11, item 1).

Every attack below would, if evaluated, create a file in the test's temporary
folder; each must be refused with a FormulaError that points into the formula
*and* leave no file behind.
"""

import numpy as np
import pandas as pd
import pytest

import bayesmix as bm
from bayesmix.errors import FormulaError
from bayesmix.spec.language import FUNCTIONS, check_side


@pytest.fixture
def data():
    rng = np.random.default_rng(1)
    n = 40
    return pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "x": rng.uniform(1, 2, size=n),
            "g": np.repeat(list("abcd"), n // 4),
            "my col": rng.normal(size=n),
            "n": np.full(n, 10),
            "k": rng.integers(0, 10, size=n),
        }
    )


def _attacks(path: str) -> list[str]:
    sh = f"'touch {path}'"
    op = f"open('{path}', 'w')"
    return [
        f"I(x + 0*np._core._add_newdocs_scalars.os.system({sh}))",  # module attribute chain
        f"I(x + 0*numpy._core._add_newdocs_scalars.os.system({sh}))",
        f"I(x + 0*__import__('os').system({sh}))",  # builtins
        "I(x + 0*getattr(np, 'sys'))",
        f"I(x + 0*len({op}.name))",
        f'I(x + 0*eval("{op}"))',
        f'I(x + 0*exec("{op}"))',
        "I(x + 0*x.__class__.__mro__[-1].__subclasses__())",  # builtins via objects
        "I(x + 0*().__class__.__bases__[0])",
        "I('{0.__class__.__init__.__globals__}'.format(x))",  # format strings
        "I(f'{x.__class__}')",
        f'I(ｅｖａｌ("{op}"))',  # unicode look-alikes (NFKC folds them to eval)
        f"I(x + 0*ｎｐ._core._add_newdocs_scalars.os.system({sh}))",
        f"{{__import__('os').system({sh})}}",  # formulaic's {python} quoting
        f"I((lambda: __import__('os').system({sh}))())",
        f"I([__import__('os').system({sh}) for _ in [1]])",
        f"I(x + 0*(y := __import__('os').system({sh})))",
        "I(x[0])",
        "np.log(x, out=x)",  # writes into the data
        "C(g, **{'levels': ['a']})",
        "C(g, _state={})",
        "I(`my col`.__class__)",
        "I(x.real)",
        "I(__builtins__)",
        f"np.log(x) + np.lib.npyio.os.system({sh})",
        f"I(x if np._core._add_newdocs_scalars.os.system({sh}) else x)",
    ]


def test_allowed_transforms_still_work(data):
    m = bm.Model(
        "y ~ np.log(x) + I(x**2) + center(x) + C(g, levels=['d', 'c', 'b', 'a']) + `my col` + (1 | g)",
        data,
    )
    assert "np.log(x)" in m.design.terms and "I(x ** 2)" in m.design.terms
    expected = np.log(data["x"].to_numpy())
    np.testing.assert_allclose(m.design.X[:, m.design.terms.index("np.log(x)")], expected)
    assert sorted(check_side("poly(x, 2) + scale(x) + C(g, contr.sum) + np.sqrt(x) + I(x > 1.5)")) == [
        "g",
        "x",
    ]


@pytest.mark.parametrize("slot", ["fixed", "bar", "response", "offset", "level2", "cbind"])
def test_attacks_are_refused_with_a_position_and_run_nothing(slot, data, tmp_path):
    target = tmp_path / "pwned"
    for i, attack in enumerate(_attacks(str(target))):
        formula = {
            "fixed": f"y ~ {attack} + (1 | g)",
            "bar": f"y ~ x + ({attack} | g)",
            "response": f"{attack} ~ x + (1 | g)",
            "offset": f"k ~ x + offset({attack}) + (1 | g)",
            "level2": "y ~ x + (1 + x | g)",
            "cbind": f"cbind(k, {attack}) ~ x + (1 | g)",
        }[slot]
        level2 = {"g": {"x": f"~ {attack}"}} if slot == "level2" else None
        family = {"offset": "poisson", "cbind": "binomial"}.get(slot, "gaussian")
        with pytest.raises(FormulaError) as err:
            bm.Model(formula, data, family=family, level2=level2)
        if slot != "level2":
            assert err.value.position is not None, (slot, i, attack, str(err.value))
        assert not target.exists(), f"attack {i} ran in the {slot} slot: {attack}"


def test_toml_spec_cannot_run_code(tmp_path):
    target = tmp_path / "pwned"
    data = tmp_path / "d.csv"
    pd.DataFrame({"y": [1.0, 2, 3, 4], "x": [1.0, 2, 3, 5], "g": list("aabb")}).to_csv(data, index=False)
    spec = tmp_path / "evil.toml"
    spec.write_text(
        f'[data]\npath = "d.csv"\n[model]\nformula = "y ~ I(x + 0*np._core._add_newdocs_scalars.os.system('
        f"'touch {target}')) + (1 | g)\"\n"
    )
    from bayesmix.cli import main

    assert main(["fit", str(spec), "--out", str(tmp_path / "out"), "--quiet"]) != 0
    assert not target.exists()


def test_allow_list_has_no_dunder_or_module_level_escape():
    assert all("__" not in f for f in FUNCTIONS)
    assert not ({"eval", "exec", "getattr", "open", "__import__", "compile"} & FUNCTIONS)


def test_deep_or_long_formulas_are_refused_quickly():
    with pytest.raises(FormulaError, match="deeper"):
        check_side("I(" * 200 + "x" + ")" * 200)
    with pytest.raises(FormulaError, match="longer"):
        bm.Model("y ~ " + " + ".join(["x"] * 3000), pd.DataFrame({"y": [1.0], "x": [1.0]}))


@pytest.mark.parametrize("formula", ["y. ~ x + (1|g)", "y ~ C(.x) + (1|g)", "k ~ x + offset(x.) + (1|g)"])
def test_unreadable_python_is_a_formula_error(formula, data):
    with pytest.raises(bm.BayesmixError):
        bm.Model(formula, data, family="poisson" if formula.startswith("k") else "gaussian")
