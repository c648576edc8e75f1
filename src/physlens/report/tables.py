"""Tables of a report as HTML: readable numbers, human column names, no empty rows, long ones folded.

Usage::

    Table(frame, caption="Fits per α", unit="J").to_html()   # '<div class="scroll"><table>…'
    format_value(0.30000000000000004)                      # '0.3'
    config_frame({"lr": 0.01, "widths": [16, 8]})          # parameter/value rows
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from physlens.report.labels import label

SIGNIFICANT = 4
"""Significant figures of a number in a table."""
FOLD_AFTER = 16
"""Tables with more rows than this are folded into a ``<details>`` element."""
SHORT = 24
"""Text cells up to this many characters are not broken across lines."""
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def format_value(value: Any, significant: int = SIGNIFICANT) -> str:
    """A cell as text: floats to ``significant`` figures (×10ⁿ for very large or small), NaN as '—',
    booleans as yes/no, sequences element by element."""
    if value is None:
        return "—"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            return "—"
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        text = f"{value:.{significant}g}"
        if "e" in text:
            mantissa, exponent = text.split("e")
            text = f"{mantissa} × 10{str(int(exponent)).translate(_SUPERSCRIPT)}"
        return text.replace("-", "−", 1) if text.startswith("-") else text
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(format_value(v, significant) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} = {format_value(v, significant)}" for k, v in value.items())
    return str(value)


def _cell(value, significant: int) -> str:
    """One ``<td>``; numbers right-aligned, short cells unbroken."""
    number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    text = format_value(value, significant)
    kind = " class=n" if number else " class=s" if len(text) <= SHORT else ""
    return f"<td{kind}>{html.escape(text)}</td>"


def drop_empty(frame: pd.DataFrame, rows: bool = True) -> pd.DataFrame:
    """The frame without columns that are entirely NaN and (``rows``) without rows whose float cells are all NaN."""
    frame = frame.loc[:, [not (frame[c].dtype.kind == "f" and frame[c].isna().all()) for c in frame.columns]]
    floats = [c for c in frame.columns if frame[c].dtype.kind == "f"]
    if rows and floats and len(frame):
        frame = frame[~frame[floats].isna().all(axis=1)]
    return frame


def config_frame(config: dict, prefix: str = "") -> pd.DataFrame:
    """A (possibly nested) configuration as parameter/value rows; nested keys joined with dots."""
    rows = []
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows += config_frame(value, f"{name}.").to_dict("records")
        else:
            rows.append({"parameter": name, "value": format_value(value)})
    return pd.DataFrame(rows, columns=["parameter", "value"])


@dataclass
class Table:
    """A table of a report.

    Attributes:
        frame: the data; its index is not shown (reset it first to show it).
        caption: what the table shows (shown above it, and as the fold's summary when folded).
        unit: energy unit of spin-system energies in it (for the column labels).
        labels: column labels that replace the defaults of ``physlens.report.labels``.
        significant: significant figures per column, for columns that need more than ``SIGNIFICANT``.
        fold_after: rows shown unfolded; longer tables are folded.
        keep_empty_rows: show rows whose float cells are all NaN (with dashes) instead of leaving them out, for
            tables where such a row still says something (a count of zero beside a median over nothing).
    """

    frame: pd.DataFrame
    caption: str = ""
    unit: str = "J"
    labels: dict[str, str] = field(default_factory=dict)
    significant: dict[str, int] = field(default_factory=dict)
    fold_after: int = FOLD_AFTER
    keep_empty_rows: bool = False

    def to_html(self) -> str:
        """The table in a horizontal scroll container, folded when long."""
        frame = drop_empty(self.frame.reset_index(drop=True), rows=not self.keep_empty_rows)
        if frame.empty:
            return f"<p class='meta'>{html.escape(self.caption or 'Table')}: none.</p>"
        head = "".join(f"<th>{html.escape(self.labels.get(c) or label(c, self.unit))}</th>" for c in frame.columns)
        digits = [self.significant.get(c, SIGNIFICANT) for c in frame.columns]
        body = "".join("<tr>" + "".join(_cell(v, d) for v, d in zip(row, digits)) + "</tr>"
                       for row in frame.itertuples(index=False))
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        table = f'<div class="scroll"><table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
        if len(frame) <= self.fold_after:
            return table
        summary = f"{self.caption or 'Table'} ({len(frame)} row{'s' if len(frame) != 1 else ''}; click to show)"
        return f"<details><summary>{html.escape(summary)}</summary>{table}</details>"


def quantities(row: dict, unit: str = "J") -> pd.DataFrame:
    """A dict of named results as quantity/value rows, with human labels; NaN and list values are left out."""
    kept = {k: v for k, v in row.items()
            if not isinstance(v, (list, tuple, np.ndarray, dict)) and not (isinstance(v, float) and math.isnan(v))}
    return pd.DataFrame({"quantity": [label(k, unit) for k in kept], "value": list(kept.values())})
