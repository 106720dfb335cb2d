"""The command line fits exactly the spec, refuses what it cannot read, and writes nothing on failure."""

from pathlib import Path

import pytest

import bayesmix as bm
from bayesmix.cli import main
from bayesmix.spec.toml import load_spec

ROOT = Path(__file__).resolve().parents[2]


def _spec(tmp_path, text: str) -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return path


def test_every_section_reaches_the_model():
    spec = load_spec(ROOT / "models" / "radon_uranium_level2.toml")
    model = bm.Model(spec.formula, spec.load_data(), **spec.model_kwargs())
    assert spec.level2, "the spec has a [level2] table"
    assert any(t.predictor == "log_uranium" for t in model.design.level2)


@pytest.mark.parametrize(
    "text, message",
    [
        (
            '[data]\ndataset = "dyestuff"\n[model]\nformula = "Yield ~ 1 + (1|Batch)"\nfamilly = "poisson"\n',
            "unknown key(s) in [model]: 'familly' (did you mean 'family'?)",
        ),
        (
            '[data]\ndatset = "dyestuff"\n[model]\nformula = "Yield ~ 1 + (1|Batch)"\n',
            "unknown key(s) in [data]: 'datset' (did you mean 'dataset'?)",
        ),
        (
            '[data]\ndataset = "dyestuff"\n[modle]\nformula = "Yield ~ 1 + (1|Batch)"\n',
            "'modle' (did you mean 'model'?)",
        ),
        (
            '[data]\ndataset = "dyestuff"\n[model]\nformula = "Yield ~ 1 + (1|Batch)"\n[sampler]\ndraw = 10\n',
            "'draw' (did you mean 'draws'?)",
        ),
        (
            'name = "../evil"\n[data]\ndataset = "dyestuff"\n[model]\nformula = "Yield ~ 1 + (1|Batch)"\n',
            "name must be a plain folder name",
        ),
        (
            'name = "/tmp/evil"\n[data]\ndataset = "dyestuff"\n[model]\nformula = "Yield ~ 1 + (1|Batch)"\n',
            "name must be a plain folder name",
        ),
        (
            'name = 7\n[data]\ndataset = "dyestuff"\n[model]\nformula = "Yield ~ 1 + (1|Batch)"\n',
            "name must be a plain folder name",
        ),
        ('[data]\npath = "missing.csv"\n[model]\nformula = "y ~ x"\n', "does not exist"),
        (
            '[data]\ndataset = "dyestuff"\n[model]\nformula = "Yield ~ 1 + (1|Batch)"\n[sampler]\nseed = 18446744073709551616\n',
            "argument 'seed'",
        ),
    ],
)
def test_bad_specs_are_one_line_errors_and_write_nothing(tmp_path, capsys, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    rc = main(["fit", str(_spec(tmp_path, text)), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err, err
    assert err.startswith("bayesmix: error:") and "Traceback" not in err
    assert not (tmp_path / "out").exists() and not Path("/tmp/evil").exists()


def test_unreadable_data_files_are_one_line_errors(tmp_path, capsys):
    (tmp_path / "bad.csv").write_bytes(b"y,x\n1,\xff\xfe\n")
    path = _spec(tmp_path, '[data]\npath = "bad.csv"\n[model]\nformula = "y ~ x"\n')
    assert main(["fit", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "bad.csv" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_level2_typos_are_named_with_a_suggestion(tmp_path, capsys):
    text = (
        '[data]\ndataset = "radon"\n[model]\nformula = "log_radon ~ floor + (1 + floor | county)"\n'
        '[level2.countty]\nIntercept = "~ log_uranium"\n'
    )
    assert main(["fit", str(_spec(tmp_path, text)), "--out", str(tmp_path / "o")]) == 2
    assert (
        "level2 names factor 'countty'" in (err := capsys.readouterr().err) and "did you mean 'county'" in err
    )
    text = text.replace("countty", "county").replace("Intercept =", "Intercep =")
    assert main(["fit", str(_spec(tmp_path, text)), "--out", str(tmp_path / "o")]) == 2
    assert "did you mean 'Intercept'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
