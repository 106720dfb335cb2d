"""Importing the package without the garbage collector's repeated passes over it.

Importing bayesmix loads PyMC, PyTensor, numba, nutpie, ArviZ, pandas and their
dependencies: some 270,000 objects that live as long as the process.  The cyclic garbage
collector walks them again and again while they are created (each generation-2 pass
visits every tracked object) and once more when the interpreter shuts down.  Measured on
this project's 2-core machine (``benchmarks/README.md``, session 13): ``import bayesmix``
3.0 s, and 0.8 s from the end of a script to the end of its process; with the collector
paused during the import, one collection at its end and the survivors frozen
(:func:`gc.freeze`), 2.8 s and 0.07 s, at the same memory.  On a warm sleepstudy fit in a
fresh process that is a fifth of the wait.

Frozen objects are never examined again by the collector; after the one collection at the
end of the import they are the modules, functions and classes the process keeps anyway
(and whatever the caller had built before importing).  Objects created afterwards are
collected as usual.
"""

from __future__ import annotations

import contextlib
import gc

__all__ = ["import_without_gc_passes"]


@contextlib.contextmanager
def import_without_gc_passes():
    """Pause the garbage collector for the block, then collect once and freeze what survives.

    The collector is left enabled or disabled as it was found.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.collect()
        gc.freeze()
        if was_enabled:
            gc.enable()
