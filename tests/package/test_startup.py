"""Importing the package pauses the garbage collector, then leaves it as it found it.

``import bayesmix`` collects once at its end and freezes what survives (bayesmix.startup):
checked in fresh interpreters, since the test process has imported the package already.
"""

import json
import subprocess
import sys

import pytest

PROBE = """
import gc, json, sys, weakref
if sys.argv[1] == "disabled":
    gc.disable()
import bayesmix
state = {"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}
gc.enable()

class Node:
    pass

a, b = Node(), Node()
a.other, b.other = b, a  # a reference cycle made after the import
alive = weakref.ref(a)
del a, b
gc.collect()
state["cycle_collected"] = alive() is None
print(json.dumps(state))
"""


@pytest.mark.parametrize("before", ["enabled", "disabled"])
def test_import_leaves_the_collector_as_found_and_later_cycles_are_collected(before):
    out = subprocess.run(
        [sys.executable, "-c", PROBE, before], capture_output=True, text=True, check=True, timeout=120
    )
    state = json.loads(out.stdout.strip().splitlines()[-1])
    assert state["enabled"] is (before == "enabled")
    # the import's long-lived objects (modules, functions, classes: ~270,000) are frozen
    assert state["frozen"] > 100_000
    assert state["cycle_collected"]
