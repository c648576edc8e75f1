"""Output folders: what a folder holds, refusing or moving it aside, and the lock against a second writer."""

import json
import os
import signal
import subprocess
import sys

import pytest

from physlens.errors import EnvironmentProblem, PhyslensError
from physlens.folders import LOCK_NAME, FolderLock, claim, folder_kind, lock_holder, lock_is_stale, move_aside


def test_folder_kind_names_what_a_folder_holds(tmp_path):
    assert folder_kind(tmp_path / "missing") is None
    (tmp_path / "empty").mkdir()
    assert folder_kind(tmp_path / "empty") is None
    for name, files, kind in [
        ("run", {"config.toml": 'kind = "nqs"\n'}, "nqs run"),
        ("nuc", {"config.toml": 'kind = "nuclear"\n'}, "nuclear run"),
        ("hu", {"study.json": json.dumps({"config": {"sizes": [8]}})}, "hidden-units study"),
        ("ns", {"study.json": json.dumps({"config": {"fractions": [0.8]}})}, "nuclear study"),
        ("lt", {"study.json": json.dumps({"rounds": 3})}, "lottery study"),
        ("other", {"notes.txt": "mine"}, "other files"),
    ]:
        (tmp_path / name).mkdir()
        for file, text in files.items():
            (tmp_path / name / file).write_text(text)
        assert folder_kind(tmp_path / name) == kind
    (tmp_path / "sae" / "sae").mkdir(parents=True)
    (tmp_path / "sae" / "summary.json").write_text("{}")
    assert folder_kind(tmp_path / "sae") == "sae output"
    (tmp_path / "file").write_text("x")
    assert folder_kind(tmp_path / "file") == "a file"


def test_claim_refuses_another_kind_and_force_moves_it_aside(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    with pytest.raises(PhyslensError, match="holds other files, not a lottery study; allowed: a new or empty --out") as err:
        claim(out, "lottery study")
    assert "\n" not in str(err.value) and (out / "precious.txt").read_text() == "keep me"
    aside = claim(out, "lottery study", force=True)
    assert not out.exists() and aside.name.startswith("out.old-") and (aside / "precious.txt").read_text() == "keep me"
    assert claim(out, "lottery study") is None


def test_claim_of_the_same_kind(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.toml").write_text('kind = "nqs"\n')
    assert claim(tmp_path / "r", "nqs run") is None
    with pytest.raises(PhyslensError, match="already holds an nqs run; allowed: a new --out, --resume"):
        claim(tmp_path / "r", "nqs run", resumable=False)


def test_claim_of_a_folder_being_written_is_an_environment_error(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.toml").write_text('kind = "nqs"\n')
    with FolderLock(tmp_path / "r"):
        for force in (False, True):
            with pytest.raises(EnvironmentProblem, match="is in use by process"):
                claim(tmp_path / "r", "nqs run", resumable=False, force=force)
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["config.toml"]


def test_move_aside_picks_a_free_name(tmp_path):
    names = set()
    for _ in range(3):
        (tmp_path / "x").mkdir()
        names.add(move_aside(tmp_path / "x").name)
    assert len(names) == 3 and sorted(p.name for p in tmp_path.iterdir()) == sorted(names)


def test_lock_excludes_a_second_writer_and_is_released(tmp_path):
    with FolderLock(tmp_path):
        holder = lock_holder(tmp_path)
        assert holder["pid"] == os.getpid() and not lock_is_stale(holder)
        with pytest.raises(EnvironmentProblem, match=f"in use by process {os.getpid()}") as err:
            FolderLock(tmp_path).acquire()
        assert err.value.exit_code == 3
        with pytest.raises(EnvironmentProblem):
            move_aside(tmp_path)
    assert not (tmp_path / LOCK_NAME).exists()
    with FolderLock(tmp_path):
        pass


def test_a_lock_left_by_a_killed_process_is_stale_and_taken_over(tmp_path):
    code = (f"from physlens.folders import FolderLock; import time; FolderLock({str(tmp_path)!r}).acquire(); "
            "print('locked', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(EnvironmentProblem, match=f"in use by process {proc.pid}"):
            FolderLock(tmp_path).acquire()
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    holder = lock_holder(tmp_path)
    assert holder["pid"] == proc.pid and lock_is_stale(holder)
    with FolderLock(tmp_path):
        assert lock_holder(tmp_path)["pid"] == os.getpid()
