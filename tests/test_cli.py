import subprocess
import sys
from pathlib import Path

import pytest

import bayesmix as bm
from bayesmix.cli import main
from bayesmix.spec.toml import load_spec

ROOT = Path(__file__).parent.parent


def test_every_bundled_spec_loads_and_builds():

    for path in sorted((ROOT / "models").glob("*.toml")):
        spec = load_spec(path)
        model = bm.Model(spec.formula, spec.load_data(), **spec.model_kwargs())
        assert model.design.n_obs > 0, path


def test_fit_writes_report_posterior_and_plots(tmp_path, capsys):
    rc = main(
        [
            "fit",
            str(ROOT / "models" / "dyestuff.toml"),
            "--out",
            str(tmp_path),
            "--draws",
            "200",
            "--tune",
            "200",
            "--quiet",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "~Batch (Number of levels: 6)" in out
    for name in ("report.txt", "summary.csv", "fit.nc", "trace.png", "forest.png", "coef.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    # the file is the whole fit: it loads back with the same report
    assert bm.load(tmp_path / "fit.nc").report() == (tmp_path / "report.txt").read_text().rstrip("\n")


def test_bad_spec_gives_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[data]\ndataset = "sleepstudy"\n[model]\nformula = "Reaction ~ Dayz + (1|Subject)"\n')
    assert main(["fit", str(bad), "--out", str(tmp_path)]) == 2
    assert "unknown predictor column 'Dayz'" in capsys.readouterr().err
    bad.write_text('[data]\ndataset = "nope"\n[model]\nformula = "y ~ x"\n')
    assert main(["fit", str(bad)]) == 2
    assert "unknown dataset 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["--help"]])
def test_console_script_runs(args):
    res = subprocess.run([sys.executable, "-m", "bayesmix.cli", *args], capture_output=True, text=True)
    assert res.returncode == 0 and "fit" in res.stdout


@pytest.mark.parametrize("name", ["tour", "restaurant_complaints"])
def test_notebook_code_runs(monkeypatch, name):
    """Each notebook's code cells run top to bottom (no display, fewer draws)."""
    import json

    orig_fit = bm.Model.fit
    monkeypatch.setattr(
        bm.Model,
        "fit",
        lambda self, **kw: orig_fit(
            self, **{**kw, "draws": 200, "tune": 200, "progressbar": False, "check": False}
        ),
    )
    monkeypatch.chdir(ROOT)
    nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
    namespace: dict = {}
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), f"{name}.ipynb", "exec"), namespace)
    assert isinstance(namespace["fit"], bm.Fit)
