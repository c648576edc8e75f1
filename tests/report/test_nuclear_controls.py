"""Tests of physlens.report.nuclear_controls: a width scan alone makes its own page and says what it left out."""

import pandas as pd

from physlens.report.nuclear_controls import write_controls_outputs


def test_a_width_scan_alone_writes_its_tables_figure_and_page(tmp_path, widths_table):
    empty = pd.DataFrame()
    tables = {"controls": empty, "widths": widths_table, "structure": empty,
              "extrapolation": pd.DataFrame({"column": ["helix_r2_Z"], "threshold": [0.9], "width": [4096.0]}),
              "perturbation": empty, "terms": empty}
    settings = {"scan_steps": 3000, "helix_r2": 0.9, "multi_turn": 2, "shell_match": 0.8, "width_rate": "constant"}
    html = write_controls_outputs(tmp_path, tables, settings).read_text()
    assert "<h1>Nuclear width scan</h1>" in html and "SEMF pseudo-data" not in html
    assert "Width 512 did not train at peak rate 0.001 (training B RMS 800 MeV)" in html
    assert (tmp_path / "figures" / "width_scan.png").stat().st_size > 1000
    assert pd.read_csv(tmp_path / "widths.csv").width.tolist() == [64, 128, 256, 512]
    assert {p.name for p in tmp_path.glob("*.csv")} == {f"{n}.csv" for n in ("controls", "widths", "structure",
                                                                           "extrapolation", "perturbation", "terms")}
