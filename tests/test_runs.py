"""Run directories: atomic writes, refusal to clobber, clear errors on broken runs."""

import json
import os
import subprocess
import sys

import pytest

from physlens.errors import PhyslensError
from physlens.provenance import library_versions
from physlens.runs import Run, atomic_write_bytes, read_toml

CONFIG = {"kind": "nqs", "system": "heisenberg-ring", "size": 8, "unused": None}
REFERENCE = {"energy": -3.65, "unit": "J"}


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    atomic_write_bytes(tmp_path / "a.bin", b"one")
    atomic_write_bytes(tmp_path / "a.bin", b"two")
    assert (tmp_path / "a.bin").read_bytes() == b"two"
    assert os.listdir(tmp_path) == ["a.bin"]


def test_atomic_write_failure_keeps_the_old_file(tmp_path):
    atomic_write_bytes(tmp_path / "a.bin", b"old")
    with pytest.raises(TypeError):
        atomic_write_bytes(tmp_path / "a.bin", "not bytes")
    assert (tmp_path / "a.bin").read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["a.bin"]


def test_create_writes_every_file_and_drops_none(tmp_path):
    run = Run.create(tmp_path / "r", CONFIG, REFERENCE)
    assert sorted(p.name for p in run.path.iterdir()) == ["config.toml", "metrics.jsonl", "reference.json",
                                                          "status.json", "versions.json"]
    assert Run.open(run.path).config == {"kind": "nqs", "system": "heisenberg-ring", "size": 8}
    assert run.status == {"state": "running", "step": 0}
    assert run.reference == REFERENCE
    assert run.versions == library_versions()


def test_create_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "x").write_text("precious")
    with pytest.raises(PhyslensError, match="already exists and is not empty"):
        Run.create(tmp_path / "r", CONFIG, REFERENCE)
    assert (tmp_path / "r" / "x").read_text() == "precious"


def test_metrics_round_trip(tmp_path):
    run = Run.create(tmp_path / "r", CONFIG, REFERENCE)
    rows = [{"step": 0, "energy": -1.0}, {"step": 1, "energy": -2.0, "czz": [0.25, -0.1]}]
    run.write_metrics(rows)
    assert run.metrics_rows() == rows
    assert run.metrics()["energy"].tolist() == [-1.0, -2.0]


@pytest.mark.parametrize("breakage,match", [
    (lambda p: None, "does not exist"),
    (lambda p: p.mkdir(), "config.toml is missing"),
    (lambda p: (p.mkdir(), (p / "config.toml").write_text("kind = [unclosed")), "is corrupt"),
    (lambda p: (p.mkdir(), (p / "config.toml").write_text('kind = "alien"')), "has kind 'alien'"),
])
def test_open_broken_runs_gives_one_line_errors(tmp_path, breakage, match):
    path = tmp_path / "r"
    breakage(path)
    with pytest.raises(PhyslensError, match=match) as err:
        Run.open(path)
    assert "\n" not in str(err.value)


def test_corrupt_status_is_reported(tmp_path):
    run = Run.create(tmp_path / "r", CONFIG, REFERENCE)
    (run.path / "status.json").write_text("{half")
    with pytest.raises(PhyslensError, match="status.json is corrupt"):
        run.status


def test_unknown_state_is_rejected(tmp_path):
    run = Run.create(tmp_path / "r", CONFIG, REFERENCE)
    with pytest.raises(PhyslensError, match="unknown run state"):
        run.write_status("paused", step=3)
    assert json.loads((run.path / "status.json").read_text())["state"] == "running"


def test_create_is_all_or_nothing(tmp_path, monkeypatch):
    import physlens.runs as runs

    def broken_versions():
        raise RuntimeError("killed while creating")

    monkeypatch.setattr(runs, "library_versions", broken_versions)
    with pytest.raises(RuntimeError):
        Run.create(tmp_path / "r", CONFIG, REFERENCE)
    assert os.listdir(tmp_path) == []


def test_read_toml_reads_a_table_and_names_what_is_wrong(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text('system = "tfim-chain"\nsize = 12\n')
    assert read_toml(good) == {"system": "tfim-chain", "size": 12}
    with pytest.raises(PhyslensError, match="does not exist; allowed: a preset"):
        read_toml(tmp_path / "missing.toml", allowed="a preset")
    bad = tmp_path / "bad.toml"
    bad.write_text("size = = 12\n")
    with pytest.raises(PhyslensError, match="not valid TOML"):
        read_toml(bad)


def test_dataclass_from_dict_checks_types_and_names_the_field():
    from dataclasses import dataclass

    from physlens.runs import dataclass_from_dict

    @dataclass(frozen=True)
    class Config:
        size: int = 8
        alpha: float = 2.0
        widths: tuple[int, ...] = (16,)
        reference: float | None = None
        pbc: bool = True

    config = dataclass_from_dict(Config, {"size": 6, "alpha": 1, "widths": [4, 8], "reference": -3})
    assert config == Config(6, 1.0, (4, 8), -3.0) and isinstance(config.alpha, float)
    for values, match in [({"size": "eight"}, "config key size must be an integer; got 'eight'"),
                          ({"size": True}, "config key size must be an integer"),
                          ({"alpha": "two"}, "config key alpha must be a number; got 'two'"),
                          ({"widths": [4, "x"]}, "config key widths must be a list of integers"),
                          ({"reference": "low"}, "config key reference must be a number or nothing"),
                          ({"pbc": 1}, "config key pbc must be true or false")]:
        with pytest.raises(PhyslensError, match=match.replace("(", r"\(")) as err:
            dataclass_from_dict(Config, values)
        assert "\n" not in str(err.value)


def test_status_records_checksums_and_verify_catches_a_modified_file(tmp_path):
    import hashlib

    run = Run.create(tmp_path / "r", CONFIG, REFERENCE)
    run.write_blob("params.msgpack", b"params")
    run.write_blob("checkpoint.msgpack", b"checkpoint")
    run.write_status("running", step=5)
    (run.path / "checkpoint.msgpack").write_bytes(b"checkpo")
    run.verify()
    run.write_blob("checkpoint.msgpack", b"checkpoint")
    run.write_status("finished", step=5)
    assert run.status["checksums"] == {"params.msgpack": hashlib.sha256(b"params").hexdigest(),
                                       "checkpoint.msgpack": hashlib.sha256(b"checkpoint").hexdigest()}
    run.verify()
    (run.path / "checkpoint.msgpack").write_bytes(b"checkpo")
    with pytest.raises(PhyslensError, match="checkpoint.msgpack does not match the sha256 recorded in status.json"):
        run.verify()
    with pytest.raises(PhyslensError, match="checkpoint.msgpack does not match"):
        run.read_state("checkpoint.msgpack")
    run.verify(("params.msgpack",))
    (run.path / "params.msgpack").unlink()
    with pytest.raises(PhyslensError, match="params.msgpack is missing"):
        run.require_usable()


def test_require_usable_refuses_a_failed_run(tmp_path):
    run = Run.create(tmp_path / "r", CONFIG, REFERENCE)
    run.write_status("failed", step=3, message="diverged: the energy is nan at step 3")
    with pytest.raises(PhyslensError, match=r"is a failed run, which analyses refuse \(diverged: the energy is nan"):
        run.require_usable()


def test_a_running_run_whose_lock_names_a_dead_process_reads_as_interrupted(tmp_path):
    import socket

    from physlens.folders import LOCK_NAME

    run = Run.create(tmp_path / "r", CONFIG, REFERENCE)
    run.write_status("running", step=50)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (run.path / LOCK_NAME).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "started": "then"}))
    status = run.status
    assert status["state"] == "interrupted" and status["step"] == 50 and "--resume continues from step 50" in status["message"]
    assert json.loads((run.path / "status.json").read_text())["state"] == "running", "reading changes nothing on disk"
    (run.path / LOCK_NAME).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": "now"}))
    assert run.status["state"] == "running"


def test_create_loses_a_race_in_one_line(tmp_path, monkeypatch):
    import physlens.runs as runs

    def other_process_wins():
        (tmp_path / "r").mkdir()
        (tmp_path / "r" / "config.toml").write_text('kind = "nqs"\n')
        return {}

    monkeypatch.setattr(runs, "library_versions", other_process_wins)
    with pytest.raises(PhyslensError, match="was created by another process meanwhile"):
        Run.create(tmp_path / "r", CONFIG, REFERENCE)
    assert os.listdir(tmp_path) == ["r"] and os.listdir(tmp_path / "r") == ["config.toml"]


def test_empty_metrics_keep_their_columns(tmp_path):
    run = Run.create(tmp_path / "r", CONFIG, REFERENCE)
    assert list(run.metrics().columns) == ["step", "energy", "energy_error", "variance", "eps"]
    assert run.metrics().empty
