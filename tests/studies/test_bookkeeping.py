"""A study folder keeps the settings it was made with; pending tasks run once each, counted from what is stored."""

import json
import time
from dataclasses import dataclass

import pytest

from physlens.errors import PhyslensError
from physlens.studies import bookkeeping
from physlens.studies.bookkeeping import record_config, run_tasks
from physlens.studies.executors import LocalExecutor


@dataclass(frozen=True)
class Study:
    out: str
    seeds: int = 3
    steps: int = 100


def test_settings_are_written_once_and_other_settings_are_refused(tmp_path):
    record_config(Study(str(tmp_path)))
    stored = json.loads((tmp_path / "study.json").read_text())
    assert stored["config"] == {"seeds": 3, "steps": 100}
    assert "jax" in stored["versions"]
    record_config(Study(str(tmp_path)))
    with pytest.raises(PhyslensError, match="steps"):
        record_config(Study(str(tmp_path), steps=200))
    assert json.loads((tmp_path / "study.json").read_text()) == stored


@dataclass(frozen=True)
class StudyWithAddedSetting:
    out: str
    seeds: int = 3
    steps: int = 100
    rate: str = "constant"


def test_a_setting_added_later_counts_as_its_default_in_an_older_folder(tmp_path):
    record_config(Study(str(tmp_path)))
    stored = (tmp_path / "study.json").read_text()
    record_config(StudyWithAddedSetting(str(tmp_path)))
    with pytest.raises(PhyslensError, match="rate"):
        record_config(StudyWithAddedSetting(str(tmp_path), rate="scaled"))
    assert (tmp_path / "study.json").read_text() == stored


@dataclass(frozen=True)
class GridStudy:
    out: str
    sizes: tuple = (8, 12)
    seeds: int = 5
    steps: int = 100


def test_a_folder_grows_its_grid_and_keeps_every_other_setting(tmp_path):
    record_config(GridStudy(str(tmp_path)), grid=("sizes", "seeds"))
    versions = json.loads((tmp_path / "study.json").read_text())["versions"]
    grown = record_config(GridStudy(str(tmp_path), sizes=(8, 14, 16), seeds=3), grid=("sizes", "seeds"))
    assert grown == {"sizes": [8, 12, 14, 16], "seeds": 5, "steps": 100}
    stored = json.loads((tmp_path / "study.json").read_text())
    assert stored["config"] == grown and stored["versions"] == versions
    before = (tmp_path / "study.json").read_text()
    with pytest.raises(PhyslensError, match=r"other settings \(steps\)"):
        record_config(GridStudy(str(tmp_path), sizes=(18,), steps=200), grid=("sizes", "seeds"))
    with pytest.raises(PhyslensError, match="sizes"):
        record_config(GridStudy(str(tmp_path), sizes=(18,)))
    assert (tmp_path / "study.json").read_text() == before


def test_every_pending_task_runs_exactly_once(tmp_path):
    done = tmp_path / "done"
    done.mkdir()

    def run_task(name):
        (done / name).write_text("x")
        return name

    run_tasks(LocalExecutor(workers=1), run_task, ["a", "b"], total=3, desc="test", progress=False)
    assert sorted(p.name for p in done.iterdir()) == ["a", "b"]


def test_the_bar_shows_what_the_running_tasks_are_doing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bookkeeping, "WATCH_EVERY_S", 0.05)

    def run_task(name):
        time.sleep(0.4)
        return name

    run_tasks(LocalExecutor(workers=1), run_task, ["a", "b"], total=2, desc="test", progress=True,
              watch=lambda: "model a at step 1,200")
    assert "model a at step 1,200" in capsys.readouterr().err
