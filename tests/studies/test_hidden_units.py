"""The hidden-unit study end to end: resumable after a kill, the same under Dask, consistent aggregates."""

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from physlens.cli import app
from physlens.folders import FolderLock
from physlens.studies import hidden_units
from physlens.studies.hidden_units_summary import size_scaling, tau_sensitivity

runner = CliRunner()
ARGS = ["study", "hidden-units", "--sizes", "8-10", "--alphas", "2-3", "--seeds", "2", "--steps", "300", "--no-progress"]
TABLES = ("models", "units", "history")


def read_tables(out: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(out / f"{name}.parquet") for name in TABLES}


def assert_same_tables(a: dict, b: dict) -> None:
    for name in TABLES:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("study") / "reference"
    result = runner.invoke(app, [*ARGS, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_small_study_runs_end_to_end(reference):
    tables = read_tables(reference)
    models = tables["models"]
    assert len(models) == 2 * 2 * 2, "the grid of 8 models and no others (no alpha = 1 models nobody asked for)"
    assert models["converged"].all() and (models["eps"] < 1e-3).all()
    assert (reference / "report.html").stat().st_size > 10_000
    assert len(tables["units"]) == (models["M"]).sum()
    # m' stored per model equals the unit table's count at the same tau
    counted = tables["units"].groupby(["N", "alpha", "seed"])["important"].sum().to_numpy()
    np.testing.assert_array_equal(counted, models["m_important"].to_numpy())
    # the tau sweep reproduces the stored classification at tau = 0.3
    sweep = tau_sensitivity(models, tables["units"], [0.3])
    for alpha, group in models.groupby("alpha"):
        assert sweep[sweep["alpha"] == alpha]["frac_mean"].iloc[0] == pytest.approx(group["frac_important"].mean())
    assert set(size_scaling(models)["alpha"]) == {2, 3}


def test_killed_study_resumes_to_identical_tables(reference, tmp_path):
    out = tmp_path / "killed"
    exe = Path(sys.executable).with_name("physlens")
    proc = subprocess.Popen([str(exe), *ARGS, "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and len(list((out / "results").glob("*.parquet"))) < 3:
            if proc.poll() is not None:
                pytest.fail("the study ended before it could be killed")
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    done_before = len(list((out / "results").glob("*.parquet")))
    assert 3 <= done_before < 10
    report = runner.invoke(app, [*ARGS, "--report-only", "--out", str(out)])
    assert report.exit_code == 0, report.output
    assert len(list((out / "results").glob("*.parquet"))) == done_before, "--report-only trains nothing"
    partial = read_tables(out)["models"]
    assert len(partial) == done_before and f"{done_before} of the 8 models of this grid stored so far (" in (out / "report.html").read_text()
    keys = ["N", "alpha", "seed"]
    same = read_tables(reference)["models"].merge(partial[keys]).reset_index(drop=True)
    pd.testing.assert_frame_equal(partial, same, check_exact=True)
    result = runner.invoke(app, [*ARGS, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert_same_tables(read_tables(out), read_tables(reference))
    one_seed = [*ARGS[:ARGS.index("--seeds")], "--seeds", "1", *ARGS[ARGS.index("--seeds") + 2:]]
    smaller = runner.invoke(app, [*one_seed, "--report-only", "--out", str(out)])
    assert smaller.exit_code == 0, smaller.output
    assert "4 of the 4 models of this grid stored so far (--report-only; the rest not trained yet); 4 more from earlier, " \
           "larger grids in this folder" in (out / "report.html").read_text()


@pytest.mark.slow  # the Dask executor itself: tests/studies/test_executors.py
def test_dask_executor_gives_the_same_tables(reference, tmp_path):
    out = tmp_path / "dask"
    result = runner.invoke(app, [*ARGS, "--executor", "dask", "--workers", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert_same_tables(read_tables(out), read_tables(reference))


def test_failing_model_is_recorded_and_the_study_continues(tmp_path, monkeypatch):
    study = hidden_units.StudyConfig(sizes=(8,), alphas=(1,), seeds=2, extra=(), steps=50, out=str(tmp_path / "s"))

    def broken_train(cfg, out, progress=True):
        if cfg.seed == 0:
            raise FloatingPointError("NaN in the SR solve")
        return original(cfg, out, progress=progress)

    original = hidden_units.train
    monkeypatch.setattr(hidden_units, "train", broken_train)
    from physlens.studies.executors import LocalExecutor

    tables = hidden_units.run_study(study, LocalExecutor(), progress=False)
    models = tables["models"]
    assert models["state"].tolist()[0] == "failed" and "NaN in the SR solve" in models["reason"].iloc[0]
    assert not models["converged"].iloc[0] and models["state"].iloc[1] != "failed"


def test_report_only_refuses_a_folder_without_a_study_and_touches_nothing(reference, tmp_path):
    result = runner.invoke(app, [*ARGS, "--report-only", "--out", str(tmp_path / "none")])
    assert result.exit_code == 2 and "holds no hidden-unit study to report on" in result.stderr
    assert not (tmp_path / "none").exists()
    other = runner.invoke(app, [*ARGS[:-3], "--steps", "301", "--no-progress", "--report-only", "--out", str(reference)])
    assert other.exit_code == 2 and "steps" in other.stderr


def test_bad_study_arguments():
    result = runner.invoke(app, ["study", "hidden-units", "--sizes", "7-9"])
    assert result.exit_code == 2 and "sizes must be even" in result.stderr
    result = runner.invoke(app, ["study", "hidden-units", "--executor", "slurm"])
    assert result.exit_code == 2 and "unknown executor" in result.stderr


def test_a_study_folder_grows_to_more_sizes_and_seeds(reference, tmp_path):
    grown = tmp_path / "grown"
    shutil.copytree(reference, grown)
    bigger = ["study", "hidden-units", "--sizes", "8-12", "--alphas", "2-3", "--seeds", "3", "--steps", "300",
              "--no-progress", "--report-only", "--out", str(grown)]
    result = runner.invoke(app, bigger)
    assert result.exit_code == 0, result.output
    config = json.loads((grown / "study.json").read_text())["config"]
    assert config["sizes"] == [8, 10, 12] and config["seeds"] == 3 and config["steps"] == 300
    pending = hidden_units.pending(hidden_units.StudyConfig(sizes=(8, 10, 12), alphas=(2, 3), seeds=3, extra=(),
                                                             steps=300, out=str(grown)))
    assert len(pending) == 3 * 2 * 3 - 2 * 2 * 2


def test_a_study_folder_refuses_other_settings(reference):
    result = runner.invoke(app, [*ARGS[:-1], "--steps", "200", "--out", str(reference)])
    assert result.exit_code == 2 and "holds a study with other settings (steps)" in result.stderr


def test_training_steps_names_the_models_now_training(tmp_path):
    for name, status in [("N08-a2-s00", {"state": "running", "step": 2400}), ("N08-a3-s00", {"state": "interrupted",
                         "step": 100}), ("N08-a4-s00", {"state": "running", "step": 1900}),
                         ("N08-a2-s02", {"state": "running", "step": 700})]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "status.json").write_text(json.dumps(status))
    (tmp_path / "N08-a5-s00").mkdir()
    (tmp_path / "N08-a5-s00" / "status.json").write_text("{half a fi")
    locks = [FolderLock(tmp_path / name).acquire() for name in ("N08-a2-s00", "N08-a4-s00")]
    names = ["N08-a2-s00", "N08-a3-s00", "N08-a4-s00", "N08-a5-s00", "N08-a2-s01", "N08-a2-s02"]
    try:       # N08-a2-s02 says "running" but no process holds it: its worker died
        assert hidden_units.training_steps(tmp_path, names) == "N08-a2-s00 at step 2,400; N08-a4-s00 at step 1,900"
    finally:
        for lock in locks:
            lock.release()
    assert hidden_units.training_steps(tmp_path, names) == ""
