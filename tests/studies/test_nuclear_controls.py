"""The nuclear controls study end to end on a tiny setting, and the width extrapolation against a closed form."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from physlens.cli import app
from physlens.errors import PhyslensError
from physlens.nuclear.train import load
from physlens.nuclear.training_config import preset
from physlens.report.nuclear_controls import write_controls_outputs
from physlens.studies import nuclear_controls as nc

runner = CliRunner()
TINY = dict(steps=250, structure_every=250, widths=(4, 8), scan_steps=250, generations=1, sr_pcs=2, width=8,
            zmin=50, nmin=50)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    config = nc.ControlsConfig(**TINY, out=str(tmp_path_factory.mktemp("controls") / "out"))
    for part in nc.PARTS:
        nc.run_part(config, part)
    return config


@pytest.fixture(autouse=True)
def tiny_models_count_as_trained(monkeypatch):
    """250 steps of a width-4 model leave B errors of tens of MeV; the threshold itself is tested below."""
    monkeypatch.setattr(nc, "UNTRAINED_RMS_MEV", 1e4)


def test_every_part_lands_in_the_tables(study):
    tables = nc.collect(study)
    controls = tables["controls"].set_index("run")
    assert set(controls.index) == set(nc.CONTROLS)
    assert controls.loc["semf", "rms_semf_val"] < 1e-8, "the SEMF refitted to SEMF pseudo-data is exact"
    assert controls.loc["measured", "rms_semf_val"] > 1.0
    assert controls.loc["measured-no-wd", "weight_decay"] == 0.0
    aux = load(Path(study.out) / "runs" / "measured-aux-ZN")
    assert list(aux.system.tasks)[-2:] == ["Z", "N"] and "Z" not in aux.config["task_weights"]
    assert controls.loc["measured", "direct_generations"] == TINY["sr_pcs"] * TINY["generations"]
    assert np.isfinite(controls.loc["measured", "rms_direct_val"])
    for run, rows in tables["structure"].groupby("run"):
        assert rows.step.tolist() == [0, 250]
    widths = tables["widths"]
    assert widths.width.tolist() == [4, 8] and (widths.steps == 250).all()
    assert len(tables["extrapolation"]) == 3


def test_report_and_refusal(study, tmp_path):
    args = ["nuclear", "controls", "--part", "report", "--steps", "250", "--structure-every", "250", "--widths", "4,8",
            "--scan-steps", "250", "--generations", "1", "--sr-pcs", "2", "--width", "8", "--zmin", "50", "--nmin", "50",
            "--out", study.out]
    report_before = (Path(study.out) / "results").stat().st_mtime
    refused = runner.invoke(app, [*args[:-2], "--generations", "3", "--out", study.out])
    assert refused.exit_code == 2 and "other settings" in refused.stderr
    assert not (Path(study.out) / "report.html").exists() and (Path(study.out) / "results").stat().st_mtime == report_before
    written = runner.invoke(app, args)
    assert written.exit_code == 0, written.output
    path = write_controls_outputs(study.out, nc.collect(study), nc.report_settings(study))
    assert path.stat().st_size > 20_000
    assert {p.name for p in (path.parent / "figures").glob("*.png")} >= {"structure_over_training.png", "width_scan.png",
                                                                        "helix_predictions_semf.png"}
    assert json.loads((path.parent / "study.json").read_text())["config"]["widths"] == [4, 8]
    bad = runner.invoke(app, ["nuclear", "controls", "--part", "everything", "--out", str(tmp_path / "new")])
    assert bad.exit_code == 2 and "part" in bad.stderr and not (tmp_path / "new").exists()


def test_untrained_widths_are_left_out_of_the_trends(tmp_path, monkeypatch):
    monkeypatch.setattr(nc, "UNTRAINED_RMS_MEV", 30.0)
    study = nc.ControlsConfig(widths=(64, 128, 256, 512), out=str(tmp_path))
    (tmp_path / "results").mkdir()
    for width, rms, r2 in ((64, 3.0, 0.5), (128, 2.5, 0.6), (256, 2.0, 0.7), (512, 3000.0, 0.05)):
        row = {"width": width, "steps": 3000, "train_rms_B": rms, "val_rms_B": rms, "helix_r2_Z": r2,
               "helix_r2_N": r2, "cos_shell_P": 0.5}
        (tmp_path / "results" / f"width-{width}.json").write_text(json.dumps(row))
    tables = nc.collect(study)
    assert tables["widths"].trained.tolist() == [True, True, True, False]
    fit = tables["extrapolation"].set_index("column").loc["helix_r2_Z"]
    assert fit.widths_fitted == "64, 128, 256"
    assert fit.slope_per_doubling == pytest.approx(0.1) and fit.predicted_width == pytest.approx(64 * 2**4)


def test_extrapolation_of_a_log_linear_trend():
    widths = pd.DataFrame({"width": [64, 128, 256], "y": [0.3, 0.4, 0.5]})
    assert nc.extrapolate(widths, "y", 0.9) == pytest.approx(64 * 2**6)
    assert nc.extrapolate(widths, "y", 0.35) == 128
    assert np.isnan(nc.extrapolate(widths.assign(y=[0.5, 0.4, 0.3]), "y", 0.9))
    flat = widths.assign(y=[0.49, 0.4905, 0.491])  # 0.0005 per doubling: 0.8 only ~620 doublings on
    assert nc.extrapolate(flat, "y", 0.8) == np.inf


def test_inverse_width_rate_divides_the_preset_rate_by_the_width_ratio():
    constant, scaled = nc.ControlsConfig(), nc.ControlsConfig(width_rate="inverse-width")
    base = preset("default").learning_rate
    assert [constant.width_config(w).learning_rate for w in (64, 512)] == [base, base]
    assert [scaled.width_config(w).learning_rate for w in (64, 128, 512)] == pytest.approx([base, base / 2, base / 8])


def test_bad_settings():
    with pytest.raises(PhyslensError, match="scan_steps"):
        nc.ControlsConfig(scan_steps=300)
    with pytest.raises(PhyslensError, match="width rate"):
        nc.ControlsConfig(width_rate="mup")
