"""The notebooks: each runs top to bottom in a fresh kernel, and is stored with its outputs.

CI executes every notebook with ``BAYESMIX_FAST=1`` (each notebook's first cell lowers its
draws and study sizes when that is set): any error in any cell fails the test, with the
cell and its traceback in the message.  The stored copies must have been executed in one
pass with the full settings, so that a reader on a code host sees the real numbers.
"""

from __future__ import annotations

import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

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


def _execute(path: Path) -> tuple[str | None, float]:
    """Run one notebook in a fresh kernel (fast mode); the error text of the failing cell, or None."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    t0 = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as exc:
        return str(exc), time.perf_counter() - t0
    if not all(c.execution_count for c in _code_cells(nb)):
        return "not every code cell ran", time.perf_counter() - t0
    return None, time.perf_counter() - t0


@pytest.fixture(scope="module")
def executed():
    """Every notebook executed with BAYESMIX_FAST=1, two kernels at a time (the machine's cores:
    a notebook's wait is mostly loading compiled models and starting up, one core each)."""
    before = os.environ.get("BAYESMIX_FAST")
    os.environ["BAYESMIX_FAST"] = "1"  # inherited by the kernels
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = dict(zip(NOTEBOOKS, pool.map(_execute, NOTEBOOKS), strict=True))
    finally:
        if before is None:
            os.environ.pop("BAYESMIX_FAST", None)
        else:
            os.environ["BAYESMIX_FAST"] = before
    return results


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_top_to_bottom(path, executed):
    error, seconds = executed[path]
    assert error is None, f"{path.name} failed in fast mode after {seconds:.0f} s:\n{error}"


def test_an_error_in_any_cell_fails(tmp_path):
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("x = 1"),
            nbformat.v4.new_code_cell("raise ValueError('cell two broke')"),
        ]
    )
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, path)
    error, _ = _execute(path)
    assert error is not None and "cell two broke" in error
