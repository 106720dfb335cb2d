"""The notebooks: each runs top to bottom in a fresh kernel, and is stored with its outputs.

CI executes every notebook with ``BAYESMIX_FAST=1`` (each notebook's first cell lowers its
draws and study sizes when that is set): any error in any cell fails the test, with the
cell and its traceback in the message.  The stored copies must have been executed in one
pass with the full settings, so that a reader on a code host sees the real numbers.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
FAST_DRAWS = re.compile(r"chains x 200 draws after 200 tuning")


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_the_catalogue_is_there():
    names = {p.stem for p in NOTEBOOKS}
    assert {
        "pooling_sleepstudy",
        "simulating",
        "radon",
        "insteval",
        "crossed_subjects_items",
        "restaurant_complaints",
        "planning",
        "stata_lme4",
    } <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_with_full_outputs(path):
    nb = nbformat.read(path, as_version=4)
    code = _code_cells(nb)
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: not executed top to bottom in one pass"
    outputs = [o for c in code for o in c.outputs]
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, f"{path.name}: stored with an error: {errors[0].ename}: {errors[0].evalue}"
    assert any("image/png" in o.get("data", {}) for o in outputs), f"{path.name}: no figure stored"
    text = "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert not FAST_DRAWS.search(text), f"{path.name}: stored from a fast-mode run"
    assert "BAYESMIX_FAST" in code[0].source, f"{path.name}: the first cell must honour BAYESMIX_FAST"


def test_readme_links_every_notebook():
    readme = (ROOT / "README.md").read_text()
    for path in NOTEBOOKS:
        assert f"(notebooks/{path.name})" in readme, f"README does not link {path.name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_top_to_bottom(path, monkeypatch):
    monkeypatch.setenv("BAYESMIX_FAST", "1")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()  # raises CellExecutionError with the failing cell and its traceback
    assert all(c.execution_count for c in _code_cells(nb))
