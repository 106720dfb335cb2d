"""Compiled functions are reused: across processes (disk cache) and across data of one structure.

These tests check *that* the compiled code is reused and that reusing it gives
exactly the draws a fresh compile gives (same seed); how much time it saves is
measured by ``benchmarks/bench.py``, not here.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytensor
import pytest

import bayesmix as bm
from bayesmix.inference import compiled as cmod

KW = dict(draws=60, tune=60, chains=2, seed=5, progressbar=False, check=False)


def _data(seed: int, n_groups: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), 6)
    x = rng.normal(size=g.size)
    y = 2.0 + 0.7 * x + rng.normal(0, 0.8, n_groups)[g] + rng.normal(0, 0.5, g.size)
    return pd.DataFrame({"y": y, "x": x, "g": [f"g{i}" for i in g]})


def test_structure_key_ignores_data_values_but_not_structure():
    a = bm.Model("y ~ x + (1 | g)", _data(1))
    b = bm.Model("y ~ x + (1 | g)", _data(2))  # other numbers, data-scaled priors differ too
    more_groups = bm.Model("y ~ x + (1 | g)", _data(1, n_groups=13))
    other_prior = bm.Model("y ~ x + (1 | g)", _data(1), priors={"sd": "half_normal(1)"})
    key = cmod.structure_key(a.built_collapsed.model)
    assert str(a.priors["Intercept"]) != str(b.priors["Intercept"])
    assert cmod.structure_key(b.built_collapsed.model) == key
    # the collapsed graph takes the number of groups from its data; the full one has one effect per group
    assert cmod.structure_key(more_groups.built_collapsed.model) == key
    assert cmod.structure_key(more_groups.built.model) != cmod.structure_key(a.built.model)
    assert cmod.structure_key(other_prior.built_collapsed.model) != key
    assert cmod.structure_key(a.built.model) != key  # collapsed and full graphs differ


@pytest.mark.parametrize("collapse, n_groups", [(True, 12), (True, 15), (False, 12)])
def test_refit_on_new_data_reuses_the_compiled_function_and_gives_the_fresh_draws(collapse, n_groups):
    # a cache passed explicitly: one-factor collapsed models would otherwise take the native path
    cache = cmod.CompileCache()
    model = bm.Model("y ~ x + (1 | g)", _data(1))
    first = model.fit(collapse=collapse, cache=cache, **KW)
    new = model.with_data(_data(2, n_groups))
    built = new.built_collapsed if collapse else new.built
    assert cmod.structure_key(built.model, built.free_names) in cache
    hits_before = cache.reused
    refit = new.fit(collapse=collapse, cache=cache, **KW)
    assert cache.reused == hits_before + 1
    # a fresh cache forces a fresh compile of the same model
    fresh = bm.Model("y ~ x + (1 | g)", _data(2, n_groups)).fit(
        collapse=collapse, cache=cmod.CompileCache(), **KW
    )
    for var in ("b", "sigma", "r_g"):
        np.testing.assert_array_equal(refit.posterior[var].values, fresh.posterior[var].values)
    # and the new data did change the answer
    assert not np.allclose(first.posterior["b"].values, refit.posterior["b"].values)


def test_the_public_nutpie_path_samples_the_same_draws():
    """Without nutpie's private helpers (another release), fits compile with nutpie's public API."""
    assert cmod.private_api_available()  # the pinned release is the tested one
    model = bm.Model("y ~ x + (1 | g)", _data(4))
    ours = model.fit(cache=cmod.CompileCache(private=True), **KW)
    public = model.fit(cache=cmod.CompileCache(private=False), **KW)
    for var in ("b", "sigma", "r_g"):
        np.testing.assert_array_equal(ours.posterior[var].values, public.posterior[var].values)


def test_callbacks_give_nutpie_s_own_draws():
    import nutpie

    m = bm.Model("y ~ x + (1 | g)", _data(3)).built.model
    ours = cmod._compile(m, None)
    assert type(ours).__name__ == "CachedCompiledModel"
    with pytensor.config.change_flags(numba__fastmath=False):  # as bayesmix compiles
        theirs = nutpie.compile_pymc_model(m)
    # bayesmix's own starting points (group effects jittered less), so the draws can be compared
    theirs = dataclasses.replace(theirs, initial_point_func=ours.initial_point_func)
    kw = dict(draws=30, tune=30, chains=1, seed=9, progress_bar=False)
    a, b = nutpie.sample(ours, **kw), nutpie.sample(theirs, **kw)
    for var in a["posterior"].data_vars:
        np.testing.assert_array_equal(a["posterior"][var].values, b["posterior"][var].values)


def test_a_second_process_loads_the_callbacks_from_disk():
    # the collapsed graph of the refit test above (data of another seed: the same structure), so
    # in a suite run the first process loads it too; the second must, whatever ran before
    script = textwrap.dedent(
        """
        import numpy as np
        import pandas as pd
        import bayesmix as bm
        from bayesmix.inference.compiled import _compile
        rng = np.random.default_rng(8)
        g = np.repeat(np.arange(12), 6)
        d = pd.DataFrame({"y": rng.normal(size=g.size), "x": rng.normal(size=g.size), "g": g.astype(str)})
        m = bm.Model("y ~ x + (1 | g)", d)
        c = _compile(m.built_collapsed.model, None)
        print(type(c).__name__, c.compiled_logp_func.cache_hits, c.compiled_expand_func.cache_hits)
        """
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        ).stdout.split()
        for _ in range(2)
    ]
    assert runs[1] == ["CachedCompiledModel", "1", "1"], runs


@pytest.mark.parametrize(
    "dataset, formula, family, link",
    [
        ("penicillin", "share ~ 1 + (1 | plate)", "beta", "probit"),  # a compiled graph
        ("sleepstudy", "Reaction ~ Days + (Days | Subject)", "gaussian", None),  # the native callback
    ],
)
def test_same_seed_same_draws_whether_compiled_afresh_or_loaded_from_the_cache(
    tmp_path, dataset, formula, family, link
):
    # With numba's fast-math flags a process that compiled the functions and one that loaded
    # them from the disk cache drew different last bits for the same seed; bit-for-bit here.
    script = textwrap.dedent(
        f"""
        import numpy as np
        import bayesmix as bm
        from bayesmix.inference import native
        d = bm.datasets.load("{dataset}")
        if "{dataset}" == "penicillin":
            d["share"] = (d["diameter"] - 10.0) / 20.0  # in (0, 1) for the beta family
        m = bm.Model("{formula}", d, family="{family}", link={link!r})
        built = m.built_collapsed if "{family}" == "gaussian" else m.built
        # the graph case must stay a graph (penicillin's crossed model went native in session 11)
        assert (native.program(built, m.design, built.free_names) is None) == ("{family}" != "gaussian")
        fit = m.fit(draws=20, tune=200, chains=1, seed=11, progressbar=False, check=False)
        post = fit.posterior
        print(" ".join(float(np.asarray(post[v]).ravel()[-1]).hex() for v in sorted(post.data_vars)))
        """
    )
    env = dict(
        os.environ,
        PYTENSOR_FLAGS=f"base_compiledir={tmp_path / 'pytensor'}",
        NUMBA_CACHE_DIR=str(tmp_path / "numba"),
    )
    cold, warm = (
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env
        ).stdout.split()
        for _ in range(2)
    )
    assert len(cold) > 3
    assert cold == warm
