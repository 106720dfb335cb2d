"""Re-execute notebooks with the full settings, store their outputs, and refresh the README figures.

    .venv/bin/python notebooks/refresh.py               # every notebook
    .venv/bin/python notebooks/refresh.py radon tour    # some

Each notebook runs top to bottom in a fresh kernel in this folder, without ``BAYESMIX_FAST``
(the stored outputs must come from the full settings; ``tests/test_notebooks.py`` checks it).
The figure of the cell tagged ``readme-figure`` is written to ``figures/<name>.png``.
"""

from __future__ import annotations

import base64
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent


def refresh(path: Path) -> float:
    """Execute one notebook in place; returns the seconds it took."""
    nb = nbformat.read(path, as_version=4)
    t0 = time.perf_counter()
    NotebookClient(
        nb, timeout=3600, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}
    ).execute()
    nbformat.write(nb, path)
    for cell in nb.cells:
        if "readme-figure" in cell.metadata.get("tags", []):
            for out in cell.get("outputs", []):
                if "image/png" in out.get("data", {}):
                    (HERE / "figures" / f"{path.stem}.png").write_bytes(
                        base64.b64decode(out["data"]["image/png"])
                    )
    return time.perf_counter() - t0


def main(names: list[str]) -> None:
    os.environ.pop("BAYESMIX_FAST", None)
    paths = [HERE / f"{n}.ipynb" for n in names] if names else sorted(HERE.glob("*.ipynb"))
    for path in paths:
        print(f"{path.name}: {refresh(path):.0f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
