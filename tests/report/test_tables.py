"""Tables of a report: significant figures, empty rows dropped, long tables folded, configurations flattened."""

import math
import re

import numpy as np
import pandas as pd

from physlens.report.tables import FOLD_AFTER, Table, config_frame, drop_empty, format_value, quantities


def test_numbers_to_significant_figures():
    assert format_value(0.1 + 0.2) == "0.3"
    assert format_value(-11.184601578254155) == "−11.18"
    assert format_value(-11.184601578254155, 6) == "−11.1846"
    assert format_value(1.2e-7) == "1.2 × 10⁻⁷"
    assert format_value(np.int64(12870)) == "12870"
    assert format_value(np.float64(math.nan)) == "—" and format_value(math.inf) == "∞"
    assert format_value(np.bool_(True)) == "yes"
    assert format_value([0.30000000000000004, 2]) == "0.3, 2"


def test_all_nan_rows_and_columns_are_dropped():
    frame = pd.DataFrame({"tau": [0.1, 0.2, 0.3], "k": [1.0, np.nan, np.nan], "k_se": [0.1, np.nan, np.nan],
                          "empty": [np.nan] * 3, "alpha": [2, 2, 2]})
    frame.loc[2, "tau"] = np.nan
    kept = drop_empty(frame)
    assert list(kept.columns) == ["tau", "k", "k_se", "alpha"]
    assert len(kept) == 2


def test_long_tables_fold_and_every_table_scrolls():
    short = Table(pd.DataFrame({"x": range(FOLD_AFTER)}), "short").to_html()
    long = Table(pd.DataFrame({"x": range(FOLD_AFTER + 1)}), "long").to_html()
    assert '<div class="scroll">' in short and "<details>" not in short
    assert long.startswith("<details><summary>long (17 rows") and '<div class="scroll">' in long


def test_columns_get_human_labels_and_cells_their_kind():
    page = Table(pd.DataFrame({"val_rms_B": [2.5], "e_clean": [-11.18], "arm": ["imp"]}), unit="J").to_html()
    assert re.findall(r"<th>(.*?)</th>", page) == ["held-out RMS of B [MeV]", "E, clean model [J]", "arm"]
    assert "<td class=n>2.5</td>" in page and "<td class=s>imp</td>" in page
    assert Table(pd.DataFrame({"x": [np.nan]}), "Nothing").to_html() == "<p class='meta'>Nothing: none.</p>"


def test_configuration_and_quantities():
    frame = config_frame({"lr": 0.30000000000000004, "widths": [16, 8], "system_params": {"h": 3.04438, "pbc": False}})
    assert frame.to_dict("records") == [{"parameter": "lr", "value": "0.3"}, {"parameter": "widths", "value": "16, 8"},
                                        {"parameter": "system_params.h", "value": "3.044"},
                                        {"parameter": "system_params.pbc", "value": "no"}]
    rows = quantities({"rms_model_val": 0.99, "czz_full": [1, 2], "k": math.nan, "target": "abs_m_s"})
    assert rows.to_dict("records") == [{"quantity": "held-out B RMS, model [MeV]", "value": 0.99},
                                       {"quantity": "steered observable", "value": "abs_m_s"}]


def test_a_table_may_keep_rows_whose_only_float_is_nan():
    frame = pd.DataFrame({"window": [1, 50], "converged_sampled": [3, 0], "exact_eps_then_median": [0.2, np.nan]})
    assert len(drop_empty(frame)) == 1 and len(drop_empty(frame, rows=False)) == 2
    assert Table(frame, "criteria").to_html().count("<tr") == 2                  # header and the one full row
    kept = Table(frame, "criteria", keep_empty_rows=True).to_html()
    assert kept.count("<tr") == 3 and "—" in kept and "0.2" in kept
