"""The ``physlens study`` commands: the grid asked for, in the folder asked for."""

import os
from pathlib import Path

from typer.testing import CliRunner

from physlens.cli import app

runner = CliRunner()


def test_hidden_unit_study_trains_only_the_grid_asked_for_into_runs(tmp_path, monkeypatch):
    """No (N = 10, α = 1) models nobody asked for; the default folder is under runs/, never docs/."""
    import pandas as pd

    from physlens.studies import hidden_units, hidden_units_summary

    seen = {}

    def fake_run_study(study, executor, progress=True):
        seen["study"] = study
        return {"models": pd.DataFrame({"converged": [True]})}

    def fake_outputs(out, tables, *details):
        return {"fits": pd.DataFrame({"alpha": [2], "a": [0.5], "k": [0.9], "a_se": [float("nan")],
                                      "k_se": [float("nan")], "r2": [float("nan")], "n_points": [1]})}

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(hidden_units, "run_study", fake_run_study)
    monkeypatch.setattr(hidden_units_summary, "write_study_outputs", fake_outputs)
    result = runner.invoke(app, ["study", "hidden-units", "--sizes", "8-12", "--alphas", "2", "--seeds", "1"])
    assert result.exit_code == 0, result.output + result.stderr
    study = seen["study"]
    assert study.extra == () and {(t.n, t.alpha) for t in study.tasks()} == {(8, 2), (10, 2), (12, 2)}
    assert Path(study.out) == Path("runs/hidden-units") and not (tmp_path / "docs").exists()
    assert os.listdir(tmp_path / "runs" / "hidden-units") == [], "the study's lock is gone when it ends"
    assert "σ(a)" not in result.stdout, "all-NaN columns are dropped from the printed fits"
