"""Tests of ``physlens sae`` and ``physlens steer`` through the CLI runner, on a tiny RBM run."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from physlens.cli import app
from physlens.quantum import train as training
from physlens.quantum.train import load as load_run

runner = CliRunner()
HOOK = "hidden.pre"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli-sae") / "ring6"
    cfg = training.TrainConfig(system="heisenberg-ring", size=6, model="rbm", alpha=2.0, mode="exact", steps=10, tol=0.0)
    training.train(cfg, path, progress=False)
    return path


def test_sae_then_steer(run_dir, tmp_path):
    out = tmp_path / "sae-out"
    result = runner.invoke(app, ["sae", str(run_dir), "--hook", HOOK, "--latents", "16", "--k", "2", "--steps", "100",
                                 "--samples", "256", "--scales", "0:2:5", "--dashboards", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Spearman" in result.output and (out / "report.html").is_file() and (out / "RESULTS.md").is_file()
    assert (out / "probe_quiet.csv").is_file() and "linear-probe direction" in result.output
    curve_csv = tmp_path / "curve.csv"
    result = runner.invoke(app, ["steer", str(run_dir), "--sae", str(out / "sae"), "--feature", "3", "--hook", HOOK,
                                 "--scales", "0.5,1,1.5", "--out", str(curve_csv)])
    assert result.exit_code == 0, result.output
    for junk in ("inf", "± 0", "nan", "ESS/S"):
        assert junk not in result.stdout, f"an exact steering table shows {junk!r}"
    curve = pd.read_csv(curve_csv)
    run = load_run(run_dir)
    e_model = run.system.energy_of(np.asarray(run.model.apply(run.variables, np.asarray(run.system.hilbert.all_states()))))
    assert list(curve["strength"]) == [0.5, 1.0, 1.5]
    assert curve["energy"][1] == pytest.approx(e_model, rel=1e-10)
    assert set(curve["method"]) == {"exact"}
    summary = json.loads((out / "summary.json").read_text())
    e0 = run.reference["energy"]
    assert summary["e0"] == e0 and summary["model_eps"] == pytest.approx(abs(e_model - e0) / abs(e0), rel=1e-8)
    assert "model ε" in (out / "RESULTS.md").read_text()


@pytest.mark.parametrize("args", [["--scales", "a,b"], ["--arch", "gated"], ["--hook", "nowhere"],
                                  ["--threshold", "0", "--arch", "jumprelu"]])
def test_bad_sae_input_exits_2(run_dir, tmp_path, args):
    result = runner.invoke(app, ["sae", str(run_dir), "--hook", HOOK, "--steps", "10", "--out", str(tmp_path / "x"), *args])
    assert result.exit_code == 2
    assert "physlens: error:" in result.output and args[0].removeprefix("--") in result.output
    assert not (tmp_path / "x").exists()


def test_steer_missing_sae_exits_2(run_dir, tmp_path):
    result = runner.invoke(app, ["steer", str(run_dir), "--sae", str(tmp_path / "none"), "--feature", "0", "--hook", HOOK])
    assert result.exit_code == 2


def test_sae_sweep_writes_rows_resumes_and_refuses_other_folders(run_dir, tmp_path):
    out = tmp_path / "sweep"
    args = ["sae-sweep", str(run_dir), "--hooks", HOOK, "--saes", "topk:8:2,relu:8:1e-3", "--steps", "40",
            "--samples", "128", "--no-progress", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out / "sweep.csv")
    assert list(frame.sae) == ["topk:8:2", "relu:8:1e-3"] and (out / "report.html").is_file()
    run = load_run(run_dir)
    e_model = run.system.energy_of(np.asarray(run.model.apply(run.variables, np.asarray(run.system.hilbert.all_states()))))
    assert frame.model_eps.to_numpy() == pytest.approx(abs(e_model - frame.e0[0]) / abs(frame.e0[0]), rel=1e-8)
    assert "model ε" in (out / "report.html").read_text()
    assert runner.invoke(app, args).exit_code == 0 and len(pd.read_csv(out / "sweep.csv")) == 2
    other = runner.invoke(app, args[:-1] + [str(run_dir)])
    assert other.exit_code == 2 and "other than this sweep" in other.output
    bad = runner.invoke(app, ["sae-sweep", str(run_dir), "--saes", "topk:8", "--out", str(tmp_path / "b")])
    assert bad.exit_code == 2 and "arch:latents:value" in bad.output and not (tmp_path / "b").exists()
    hook = runner.invoke(app, ["sae-sweep", str(run_dir), "--hooks", "nope", "--out", str(tmp_path / "c")])
    assert hook.exit_code == 2 and "unknown hook" in hook.output
