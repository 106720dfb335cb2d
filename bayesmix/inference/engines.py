"""NUTS engines behind one small interface: run a built model, return raw draws or raise.

An engine takes a ``pymc.Model``, the variables to store, the settings and the seed,
and returns an ArviZ DataTree of the raw draws (internal variables included) with
``sample_stats``.  It translates its library's failures into
:class:`~bayesmix.errors.SamplingError` and an interrupt (Ctrl-C) into
:class:`Interrupted`, which carries whatever was drawn, so the caller decides
what an interrupted run becomes (by default: :class:`KeyboardInterrupt`).

* :class:`NutpieEngine` -- Rust NUTS on the numba-compiled log density, compiled
  through a :class:`~bayesmix.inference.compiled.CompileCache`, or, for the models
  :mod:`bayesmix.inference.native` covers, its one precompiled callback;
* :class:`PyMCEngine` -- PyMC's own NUTS.
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field

import nutpie
import pymc as pm
import pytensor

from bayesmix.errors import SamplingError
from bayesmix.inference.compiled import DEFAULT_CACHE, CompileCache, private_api_available
from bayesmix.inference.native import Program, compile_program

__all__ = ["Engine", "EngineRun", "Interrupted", "NutpieEngine", "PyMCEngine", "ENGINES", "get_engine"]


class Interrupted(Exception):
    """Sampling was interrupted (Ctrl-C); ``partial`` holds the raw draws made so far (or None)."""

    def __init__(self, partial, phase: str):
        super().__init__(f"sampling interrupted during {phase}")
        self.partial = partial
        self.phase = phase


@dataclass
class EngineRun:
    """Raw draws of one run and how long compiling and sampling took."""

    idata: object
    compile_seconds: float
    sampling_seconds: float
    timings: dict = field(default_factory=dict)


class Engine:
    """Interface of a NUTS engine."""

    name: str = ""

    def run(
        self, model: pm.Model, keep: list[str], settings, seed: int, native: Program | None = None
    ) -> EngineRun:
        """Sample ``model`` storing the variables ``keep``; see the module docstring.

        ``native`` is the model's :class:`~bayesmix.inference.native.Program` when it has one:
        an engine that can evaluate it needs no compile of the model's graph.
        """
        raise NotImplementedError


def _failure(exc: BaseException) -> str:
    """The first line of an engine's error, without nutpie's Rust backtrace."""
    return str(exc).split("Stack backtrace")[0].strip().replace("\n\nCaused by:\n   ", ":")


class NutpieEngine(Engine):
    """nutpie's NUTS on a numba-compiled log density (compiled once per model structure)."""

    name = "nutpie"

    def __init__(self, cache: CompileCache | None = None):
        self.cache = cache

    def run(self, model, keep, settings, seed, native=None):
        t0 = time.perf_counter()
        try:
            # a cache given explicitly asks for the compiled graph (it is what the cache holds)
            if native is not None and self.cache is None and private_api_available():
                compiled = compile_program(model, native)
            else:
                cache = self.cache if self.cache is not None else DEFAULT_CACHE  # an empty cache is falsy
                compiled = cache.compile(model, var_names=keep)
        except (RuntimeError, FloatingPointError, ValueError) as exc:
            raise SamplingError(f"compiling the model failed ({_failure(exc)})") from None
        t1 = time.perf_counter()
        try:
            sampler = nutpie.sample(
                compiled,
                draws=settings.draws,
                tune=settings.tune,
                chains=settings.chains,
                cores=settings.n_cores,
                seed=seed,
                save_warmup=False,
                progress_bar=settings.progressbar,
                target_accept=settings.target_accept,
                adaptation=settings.adaptation,
                blocking=False,
            )
            try:
                idata = sampler.wait()
            except KeyboardInterrupt:
                partial = sampler.abort()
                raise Interrupted(partial, "sampling") from None
        except (RuntimeError, FloatingPointError) as exc:
            raise SamplingError(f"sampling failed ({_failure(exc)}).") from None
        return EngineRun(idata, t1 - t0, time.perf_counter() - t1)


class PyMCEngine(Engine):
    """PyMC's own NUTS (it compiles inside ``pm.sample``: its compile time counts as sampling)."""

    name = "pymc"

    def run(self, model, keep, settings, seed, native=None):
        # PyMC catches Ctrl-C itself, ends the chain it is on and goes on to the next one: a
        # flag set by our SIGINT handler makes every later draw raise again, so all chains stop
        hit = {"sigint": False}

        def on_sigint(signum, frame):
            hit["sigint"] = True
            raise KeyboardInterrupt

        def stop_if_interrupted(trace, draw):
            if hit["sigint"]:
                raise KeyboardInterrupt

        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, on_sigint) if main else None
        t0 = time.perf_counter()
        try:
            # fast-math off, as for nutpie: with it, a function compiled afresh and one loaded from
            # numba's disk cache round differently, so the first run on a machine drew other draws
            with pytensor.config.change_flags(numba__fastmath=False):
                idata = pm.sample(
                    draws=settings.draws,
                    tune=settings.tune,
                    chains=settings.chains,
                    cores=settings.n_cores,
                    random_seed=seed,
                    target_accept=settings.target_accept,
                    nuts_sampler="pymc",
                    progressbar=settings.progressbar,
                    var_names=keep,
                    compute_convergence_checks=False,
                    model=model,
                    callback=stop_if_interrupted,
                )
        except KeyboardInterrupt:
            raise Interrupted(None, "sampling") from None
        except Exception as exc:
            if hit["sigint"]:  # interrupted in tuning, PyMC fails building an empty trace
                raise Interrupted(None, "tuning") from None
            if isinstance(exc, pm.exceptions.SamplingError | RuntimeError | FloatingPointError):
                raise SamplingError(f"sampling failed ({_failure(exc)}).") from None
            raise
        finally:
            if main:
                signal.signal(signal.SIGINT, previous)
        n = idata["posterior"].sizes["draw"] if "posterior" in idata.children else 0
        if hit["sigint"] or n < settings.draws:
            raise Interrupted(idata if n else None, "sampling" if n else "tuning")
        return EngineRun(idata, 0.0, time.perf_counter() - t0)


#: the engines by name
ENGINES: dict[str, type[Engine]] = {"nutpie": NutpieEngine, "pymc": PyMCEngine}


def get_engine(name: str, cache: CompileCache | None = None) -> Engine:
    """The engine called ``name`` (``"nutpie"`` or ``"pymc"``)."""
    cls = ENGINES[name]
    return cls(cache) if cls is NutpieEngine else cls()
