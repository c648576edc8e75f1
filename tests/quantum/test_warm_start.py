"""Tests of starting a run from another's final parameters: the new run starts exactly where the source ended,
the source's parameters are pinned by sha256, and every mismatch is refused in one line before anything runs."""

import dataclasses
import hashlib
import json

import pytest
from typer.testing import CliRunner

from physlens.cli import app
from physlens.errors import PhyslensError
from physlens.quantum.train import TrainConfig, load, train
from physlens.quantum.warm_start import pinned
from physlens.runs import Run

SOURCE = TrainConfig(system="heisenberg-ring", size=6, alpha=1.0, steps=20, tol=0.0, learning_rate=0.05, log_every=5)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return train(SOURCE, tmp_path_factory.mktemp("warm") / "source", progress=False)


def test_the_new_run_starts_where_the_source_ended(source, tmp_path):
    cfg = dataclasses.replace(SOURCE, init_from=str(source.path), steps=3, learning_rate=0.01, seed=7)
    run = train(cfg, tmp_path / "polished", progress=False)
    first = run.metrics_rows()[0]
    assert first["step"] == 0
    assert first["energy"] == pytest.approx(source.status["energy"], rel=1e-12, abs=0)
    digest = hashlib.sha256((source.path / "params.msgpack").read_bytes()).hexdigest()
    assert run.settings["init_sha256"] == digest and run.settings["init_from"] == str(source.path)


def test_a_seeded_start_differs(source, tmp_path):
    run = train(dataclasses.replace(SOURCE, steps=1, seed=7), tmp_path / "fresh", progress=False)
    assert abs(run.metrics_rows()[0]["energy"] - source.status["energy"]) > 1e-3


def test_another_network_is_refused_naming_the_field(source):
    with pytest.raises(PhyslensError, match=r"alpha \(1.0 there, 2.0 here\)"):
        pinned(dataclasses.replace(SOURCE, init_from=str(source.path), alpha=2.0))


def test_a_changed_source_is_refused(source, tmp_path):
    cfg = pinned(dataclasses.replace(SOURCE, init_from=str(source.path)))
    with pytest.raises(PhyslensError, match="have changed since this config was written"):
        pinned(dataclasses.replace(cfg, init_sha256="0" * 64))


def test_an_unfinished_source_is_refused(source, tmp_path):
    status = json.loads((source.path / "status.json").read_text())
    running = tmp_path / "running"
    Run.create(running, {"kind": "nqs", **SOURCE.to_dict()}, source.reference)
    (running / "status.json").write_text(json.dumps({**status, "state": "running"}))
    with pytest.raises(PhyslensError, match="is running: only a finished or converged run can start another"):
        pinned(dataclasses.replace(SOURCE, init_from=str(running)))


def test_cli_bad_source_is_one_line_and_writes_nothing(source, tmp_path):
    out = tmp_path / "new"
    result = CliRunner().invoke(app, ["train", "--size", "6", "--alpha", "2", "--init-from", str(source.path),
                                      "--out", str(out)])
    assert result.exit_code == 2 and "Traceback" not in result.output + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "was trained on another system or network" in lines[0]
    assert not out.exists()
    result = CliRunner().invoke(app, ["train", "--init-from", str(tmp_path / "nope"), "--out", str(out)])
    assert result.exit_code == 2 and "does not exist" in result.stderr and not out.exists()


def test_cli_polishes_a_run(source, tmp_path):
    out = tmp_path / "cli"
    result = CliRunner().invoke(app, ["train", "--size", "6", "--alpha", "1", "--steps", "2", "--tol", "0",
                                      "--init-from", str(source.path), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert load(out).metrics_rows()[0]["energy"] == pytest.approx(source.status["energy"], rel=1e-12, abs=0)
