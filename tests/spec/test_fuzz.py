"""Property test: building a model from any formula and any data frame either works or raises a
BayesmixError -- never another exception, never a hang (issue 11, item 7).

Derandomized (a fixed seed) with a fixed budget, so CI runs the same examples every time.
"""

import warnings

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bayesmix as bm

COLUMNS = ["y", "x", "z", "g", "h", "é ü", "t", "b"]
NAMES = st.sampled_from(
    ["x", "z", "g", "b", "`é ü`", "w", "np.log(x)", "I(x**2)", "C(g)", "center(x)", "scale(z)", "x:z"]
)
FACTORS = st.sampled_from(["g", "h", "g:h", "g/h", "t", "b", "x", "`é ü`", "é"])
BAR = st.builds(
    lambda lhs, bar, fac: f"({lhs} {bar} {fac})",
    st.sampled_from(["1", "x", "1 + x", "0 + x", "-1 + z", "x + z", "C(b)"]),
    st.sampled_from(["|", "||"]),
    FACTORS,
)
TERM = st.one_of(NAMES, BAR, st.sampled_from(["1", "0", "-1", "offset(x)", "x*z", "(x + z)**2"]))


@st.composite
def formulas(draw):
    lhs = draw(st.sampled_from(["y"] * 6 + ["cbind(h, z)", "h | trials(z)", "np.log(y)", "b", "h", ""]))
    terms = draw(st.lists(TERM, min_size=1, max_size=5))
    ops = draw(
        st.lists(st.sampled_from([" + ", " - ", " + ", ":", "*"]), min_size=len(terms), max_size=len(terms))
    )
    rhs = "".join(op + t for op, t in zip(ops, terms, strict=True)).lstrip(" +")
    text = f"{lhs} ~ {rhs}"
    # sometimes damage it: a stray character where the grammar does not expect one
    if draw(st.booleans()) and draw(st.integers(0, 3)) == 0:
        pos = draw(st.integers(0, len(text)))
        text = text[:pos] + draw(st.sampled_from(list("()|~.,`'\"[]{}:*/+-@#é \t"))) + text[pos:]
    return text


FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)


@st.composite
def frames(draw):
    n = draw(st.sampled_from([0, 1, 3, 12, 25, 40]))
    scale = draw(st.sampled_from([1.0, 1e-12, 1e15]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    cols = {
        "y": rng.normal(size=n) * scale,
        "x": rng.normal(size=n),
        "z": rng.integers(0, 5, size=n).astype(float),
        "g": rng.choice(
            draw(st.sampled_from([["a", "b"], ["a"], [" a", "a ", "ä", "a:b"], ["1", "2", "3"]])), size=n
        ),
        "h": rng.integers(0, draw(st.sampled_from([1, 3, 8, 30])), size=n),
        "é ü": rng.normal(size=n),
        "t": pd.date_range("2020-01-01", periods=n, freq="D"),
        "b": rng.random(n) < 0.5,
    }
    df = pd.DataFrame(cols)
    # poison some cells
    for _ in range(draw(st.integers(0, 3))):
        if n == 0:
            break
        col = draw(st.sampled_from(["y", "x", "z"]))
        df.loc[df.index[draw(st.integers(0, n - 1))], col] = draw(FLOATS)
    if draw(st.integers(0, 3)) == 0:
        df["x"] = df["z"] * 2.0  # collinear
    if draw(st.integers(0, 3)) == 0 and n:
        df["z"] = 3.0  # constant
    return df


@settings(
    max_examples=250,
    deadline=5000,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    formula=formulas(),
    data=frames(),
    family=st.sampled_from(["gaussian", "poisson", "bernoulli", "binomial"]),
)
def test_model_construction_works_or_raises_a_bayesmix_error(formula, data, family):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            bm.Model(formula, data, family=family)
        except bm.BayesmixError:
            pass
