import re
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


def test_level_two_and_prior_sections_reach_the_fit(tmp_path, capsys):
    """A spec's [level2] and [priors] tables change the fit the command line writes."""
    args = ["--draws", "200", "--tune", "200", "--quiet"]
    assert (
        main(
            ["fit", str(ROOT / "models" / "radon_uranium_level2.toml"), "--out", str(tmp_path / "l2"), *args]
        )
        == 0
    )
    report = (tmp_path / "l2" / "report.txt").read_text()
    assert "Level-two coefficients (~county" in report
    assert "g01 Intercept ~ log_uranium" in report
    fit = bm.load(tmp_path / "l2" / "fit.nc")
    assert any(t.predictor == "log_uranium" for t in fit.design.level2)
    capsys.readouterr()
    assert main(["fit", str(ROOT / "models" / "clinics.toml"), "--out", str(tmp_path / "cl"), *args]) == 0
    printed = capsys.readouterr().out
    for prior, source in [
        ("normal(130, 15)", "Intercept"),
        ("normal(0, 5)", "b"),
        ("half_normal(20)", "sigma"),
    ]:
        assert re.search(rf"{re.escape(prior)}\s+{source}\n", printed), prior  # set by the spec's key
    priors = bm.load(tmp_path / "cl" / "fit.nc").model.priors.to_frame()
    assert priors.loc["sigma", "prior"] == "half_normal(20)" and "default" not in set(priors["source"])
