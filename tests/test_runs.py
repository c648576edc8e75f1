"""Run directories: atomic writes, refusal to clobber, clear errors on broken runs."""

import json
import os

import pytest

from physlens.errors import PhyslensError
from physlens.runs import Run, atomic_write_bytes, library_versions, read_toml

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
