"""The nuclear study: task grid, stored rows, resumption without retraining, collected tables, report."""

import json

import pytest

from physlens.errors import PhyslensError
from physlens.report.nuclear import write_study_outputs
from physlens.studies import nuclear
from physlens.studies.executors import LocalExecutor


def test_task_grid_puts_one_seed_and_the_single_task_models_first():
    study = nuclear.StudyConfig(fractions=(0.2, 0.8), seeds=(0, 1), single_tasks=("S_n", "Q_EC"), out="x")
    names = [t.name for t in study.tasks()]
    assert names == ["multi-f20-s0", "multi-f80-s0", "single-S_n-f80-s0", "single-Q_EC-f80-s0",
                     "multi-f20-s1", "multi-f80-s1"]
    cfg = study.tasks()[2].train_config()
    assert cfg.tasks == ("S_n",) and cfg.train_fraction == 0.8 and cfg.steps == study.steps and cfg.width == 32
    with pytest.raises(PhyslensError, match="single_fraction"):
        nuclear.StudyConfig(fractions=(0.2,), single_fraction=0.8)


def test_study_stores_rows_resumes_and_collects(tmp_path, monkeypatch):
    study = nuclear.StudyConfig(fractions=(0.5, 0.8), seeds=(0,), single_tasks=("S_n",), steps=250, width=6, depth=1,
                                out=str(tmp_path / "study"))
    tables = nuclear.run_study(study, LocalExecutor(), progress=False)
    models = tables["models"].set_index("name")
    assert set(models.index) == {"multi-f50-s0", "multi-f80-s0", "single-S_n-f80-s0"}
    assert (models.state == "finished").all()
    row = json.loads((tmp_path / "study" / "results" / "multi-f80-s0.json").read_text())
    status = json.loads((tmp_path / "study" / "runs" / "multi-f80-s0" / "status.json").read_text())
    assert row["val_rms_B"] == status["val_rms_B"] and 0 <= row["orderedness_Z"] <= 1 and row["R_P_N"] > 0
    tasks = tables["tasks"].set_index("task")
    assert tasks.loc["S_n", "single_val_rms_MeV"] == models.loc["single-S_n-f80-s0", "val_rms_S_n"]
    assert tasks.loc["S_n", "multi_val_rms_MeV"] == models.loc["multi-f80-s0", "val_rms_S_n"]
    assert list(tables["fractions"].fraction) == [0.5, 0.8]

    def no_training(*args, **kwargs):
        raise AssertionError("a finished task was trained again")

    monkeypatch.setattr(nuclear, "train_or_resume", no_training)
    again = nuclear.run_study(study, LocalExecutor(), progress=False)
    assert again["models"].equals(tables["models"])
    with pytest.raises(PhyslensError, match="other settings"):
        nuclear.run_study(nuclear.StudyConfig(fractions=(0.5, 0.8), seeds=(0,), single_tasks=("S_n",), steps=500,
                                              width=6, depth=1, out=study.out), LocalExecutor(), progress=False)
    write_study_outputs(study.out, study, again, ["test"])
    assert (tmp_path / "study" / "study_report.html").stat().st_size > 1000
    assert "| S_n |" in (tmp_path / "study" / "study_tables.md").read_text()
