"""``physlens prune`` through typer's CliRunner."""

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from physlens.cli import app

runner = CliRunner()


def test_prune_writes_levels_and_report(tmp_path):
    out = tmp_path / "lottery"
    result = runner.invoke(app, ["prune", "tiny", "--rounds", "1", "--steps", "5", "--seeds", "0",
                                 "--controls", "random_mask", "--out", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out / "levels.csv")
    assert sorted(frame.arm.unique()) == ["imp", "random_mask"]
    assert (out / "report.html").is_file()
    curve = pd.read_csv(out / "curve.csv")
    imp = curve[curve.arm == "imp"].sort_values("level")
    np.testing.assert_allclose(imp["median"], frame[frame.arm == "imp"].groupby("level").rel_error.median())
    assert len(pd.read_csv(out / "claims.csv")) == 4 and (out / "filters_extent.csv").is_file()
    assert (out / "terms.csv").is_file()
    grown = runner.invoke(app, ["prune", "tiny", "--rounds", "2", "--steps", "5", "--seeds", "0",
                                "--controls", "reinit", "--control-levels", "2", "--out", str(out)])
    assert grown.exit_code == 2 and "other settings (rounds)" in grown.output, "only the controls may differ"
    grown = runner.invoke(app, ["prune", "tiny", "--rounds", "1", "--steps", "5", "--seeds", "0",
                                "--controls", "reinit", "--control-levels", "1", "--out", str(out)])
    assert grown.exit_code == 0, grown.output
    frame = pd.read_csv(out / "levels.csv")
    assert frame.groupby("level").arm.apply(sorted).to_dict() == {0: ["imp"], 1: ["imp", "random_mask", "reinit"]}
    assert json.loads((out / "study.json").read_text())["controls"] == ["reinit", "random_mask"]


def test_prune_rejects_bad_input_with_exit_code_2(tmp_path):
    assert runner.invoke(app, ["prune", "no-such-preset", "--out", str(tmp_path / "a")]).exit_code == 2
    bad = runner.invoke(app, ["prune", "tiny", "--controls", "bogus", "--out", str(tmp_path / "b")])
    assert bad.exit_code == 2 and "control" in bad.output
    assert runner.invoke(app, ["prune", "tiny", "--fraction", "1.5", "--out", str(tmp_path / "c")]).exit_code == 2


def test_prune_with_sr_on_samples_records_the_training(tmp_path):
    out = tmp_path / "sr"
    result = runner.invoke(app, ["prune", "tiny", "--rounds", "1", "--steps", "5", "--seeds", "0", "--controls", "none",
                                 "--optimizer", "sr", "--mode", "sampled", "--lr", "0.01", "--out", str(out)])
    assert result.exit_code == 0, result.output
    study = json.loads((out / "study.json").read_text())
    assert study["training_method"].startswith("NetKet VMC: SR") and (out / "observables.csv").is_file()
    assert runner.invoke(app, ["prune", "tiny", "--optimizer", "lbfgs", "--out", str(tmp_path / "x")]).exit_code == 2
    climb = runner.invoke(app, ["prune-regrow", str(out), "--from-level", "1", "--to-level", "0"])
    assert climb.exit_code == 0, climb.output
    rows = pd.read_csv(out / "regrowth-s0-from-01" / "regrowth.csv")
    assert rows.level.tolist() == [0] and "hysteresis" in climb.output
    bad = runner.invoke(app, ["prune-regrow", str(out), "--from-level", "4", "--to-level", "0"])
    assert bad.exit_code == 2 and "need finished IMP levels" in bad.output
    assert runner.invoke(app, ["prune-regrow", str(tmp_path), "--from-level", "1", "--to-level", "0"]).exit_code == 2


def test_prune_plaquette_refuses_bad_input_and_touches_nothing(tmp_path):
    held = tmp_path / "held"
    held.mkdir()
    (held / "notes.txt").write_text("mine")
    result = runner.invoke(app, ["prune-plaquette", "--steps", "1", "--out", str(held)])
    assert result.exit_code == 2 and "new or empty" in result.output
    assert [p.name for p in held.iterdir()] == ["notes.txt"]
    assert runner.invoke(app, ["prune-plaquette", "--weights", "a", "--out", str(tmp_path / "w")]).exit_code == 2
    wrong = runner.invoke(app, ["prune-plaquette", "tiny", "--out", str(tmp_path / "t")])
    assert wrong.exit_code == 2 and "toric code" in wrong.output and not (tmp_path / "t").exists()


def test_prune_overview_needs_lottery_studies(tmp_path):
    bad = runner.invoke(app, ["prune-overview", str(tmp_path)])
    assert bad.exit_code == 2 and "no lottery study" in bad.output and not (tmp_path / "report.html").exists()
    assert runner.invoke(app, ["prune", "tiny", "--rounds", "2", "--steps", "5", "--seeds", "0", "--controls", "none",
                               "--out", str(tmp_path / "a")]).exit_code == 0
    levels = (tmp_path / "a" / "levels.csv").read_text()
    (tmp_path / "a" / "curve.csv").unlink()
    (tmp_path / "a" / "levels.csv").unlink()
    result = runner.invoke(app, ["prune-overview", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "a/report.html" in (tmp_path / "report.html").read_text()
    assert (tmp_path / "a" / "curve.csv").is_file() and "../report.html" in (tmp_path / "a" / "report.html").read_text()
    assert (tmp_path / "a" / "levels.csv").read_text() == levels, "rewritten from the saved levels, every digit"
    begun = tmp_path / "b"                              # a study that has not finished its dense level is left out
    begun.mkdir()
    (begun / "study.json").write_text((tmp_path / "a" / "study.json").read_text())
    result = runner.invoke(app, ["prune-overview", str(tmp_path)])
    assert result.exit_code == 0 and "no finished level yet" in result.output
    assert "b/report.html" not in (tmp_path / "report.html").read_text()


def test_prune_merge_joins_seeds_and_refuses_a_taken_out(tmp_path):
    for seed in (0, 1):
        assert runner.invoke(app, ["prune", "tiny", "--rounds", "1", "--steps", "5", "--seeds", str(seed),
                                   "--controls", "none", "--out", str(tmp_path / f"s{seed}")]).exit_code == 0
    result = runner.invoke(app, ["prune-merge", str(tmp_path / "s0"), str(tmp_path / "s1"), "--out", str(tmp_path / "j")])
    assert result.exit_code == 0, result.output
    assert sorted(pd.read_csv(tmp_path / "j" / "levels.csv").seed.unique()) == [0, 1]
    assert (tmp_path / "j" / "report.html").is_file() and (tmp_path / "j" / "curve.csv").is_file()
    again = runner.invoke(app, ["prune-merge", str(tmp_path / "s0"), str(tmp_path / "s1"), "--out", str(tmp_path / "j")])
    assert again.exit_code == 2 and "already holds" in again.output


def test_rescue_refuses_a_folder_that_is_no_lottery_study(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = runner.invoke(app, ["prune-rescue", str(tmp_path), "--seed", "0"])
    assert result.exit_code == 2 and "is not a lottery study folder" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
