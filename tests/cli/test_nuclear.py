"""``physlens nuclear``: train, analyse and their one-line errors, through the Typer app."""

import json

from typer.testing import CliRunner

from physlens.cli import app

runner = CliRunner()


def test_train_then_analyse_writes_report_and_summary(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["nuclear", "train", "--tasks", "B,S_n", "--width", "6", "--depth", "1", "--steps",
                                 "250", "--binding-target", "total", "--weight-decay", "0", "--out", str(out),
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    assert 'weight_decay = 0.0' in (out / "config.toml").read_text()
    assert "held-out B RMS: model / SEMF" in result.output
    result = runner.invoke(app, ["nuclear", "analyse", str(out), "--n-pcs", "3", "--sr-pcs", "1", "--generations", "3",
                                 "--population", "30", "--figures", str(tmp_path / "figs")])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "analysis.json").read_text())
    assert summary["n_nuclei"] > 2000 and summary["rms_semf_val"] > 0
    html = (out / "report.html").read_text()
    assert len(html) > 10000 and "B = c0 + Σ c_k f_k(Z, N)" in html and "period ≥ 4" in html
    assert "N ∈ [40, 120] (the paper&#x27;s range)" in html or "N ∈ [40, 120] (the paper's range)" in html
    assert (tmp_path / "figs" / "helix_Z.png").exists() and (tmp_path / "figs" / "pc_maps.png").exists()


def test_bad_input_exits_2_with_one_line(tmp_path):
    result = runner.invoke(app, ["nuclear", "train", "--train-fraction", "1.5", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "train_fraction" in result.output
    assert not (tmp_path / "r").exists()
    result = runner.invoke(app, ["nuclear", "train", "--binding-target", "per_A", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "binding_target" in result.output and not (tmp_path / "r").exists()
    result = runner.invoke(app, ["nuclear", "train", "--weight-decay", "-1", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "weight_decay must be >= 0" in result.output and not (tmp_path / "r").exists()
    result = runner.invoke(app, ["nuclear", "analyse", str(tmp_path / "missing")])
    assert result.exit_code == 2
    result = runner.invoke(app, ["nuclear", "study", "--fractions", "0.2,x", "--out", str(tmp_path / "s")])
    assert result.exit_code == 2 and "fractions" in result.output
