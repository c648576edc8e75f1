"""Tests of physlens.report.hidden_units: a summary row whose only float is NaN is shown, not dropped."""

import numpy as np
import pandas as pd

from physlens.report.hidden_units import _all_rows
from physlens.report.tables import Table, drop_empty


def test_a_row_with_no_median_is_kept_with_a_dash():
    frame = pd.DataFrame({"window": [1, 50], "converged_sampled": [3, 0], "exact_eps_then_median": [0.2, np.nan]})
    assert len(drop_empty(frame)) == 1                        # as a float column, the NaN row would be dropped
    shown = _all_rows(frame)
    assert len(drop_empty(shown)) == 2 and shown.loc[1, "exact_eps_then_median"] is None
    html = Table(shown, "criteria").to_html()
    assert html.count("<tr") == 3 and "—" in html and "0.2" in html
