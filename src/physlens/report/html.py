"""Self-contained HTML reports: sections of prose, figures (embedded PNG) and tables.

A report never computes: it is handed finished figures and tables. Figures are
embedded as base64 PNG so a report is one file that can be mailed or committed.

Usage::

    page = Report("Hidden units of runs/ring8", [
        Section("Training", "Energy against the exact reference.", figures=[fig], tables=[frame]),
    ])
    page.write("runs/ring8/report.html")
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
import pandas as pd

from physlens.runs import atomic_write_text

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (backend first)

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 2em; }
figure { display: inline-block; margin: .5em 1em .5em 0; } img { max-width: 100%; }
table { border-collapse: collapse; font-size: .85em; margin: .8em 0; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; } th { background: #f3f3f3; }
.meta { color: #666; font-size: .85em; } pre { background: #f7f7f7; padding: .6em; overflow-x: auto; }
"""


def figure_png(fig: plt.Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes; the figure is closed."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


@dataclass
class Section:
    """One part of a report.

    Attributes:
        title: section heading.
        text: prose (plain text; paragraphs separated by blank lines).
        figures: matplotlib figures, embedded in order.
        tables: DataFrames shown as HTML tables.
        links: (relative address, text) pairs shown as a list of links (e.g. to feature pages).
    """

    title: str
    text: str = ""
    figures: list = field(default_factory=list)
    tables: list[pd.DataFrame] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)

    def to_html(self) -> str:
        parts = [f"<h2>{html.escape(self.title)}</h2>"]
        parts += [f"<p>{html.escape(p.strip())}</p>" for p in self.text.split("\n\n") if p.strip()]
        for fig in self.figures:
            data = base64.b64encode(figure_png(fig)).decode()
            parts.append(f'<figure><img src="data:image/png;base64,{data}"></figure>')
        for table in self.tables:
            parts.append(table.to_html(index=False, float_format=lambda x: f"{x:.6g}", border=0))
        if self.links:
            items = "".join(f'<li><a href="{html.escape(href)}">{html.escape(text)}</a></li>' for href, text in self.links)
            parts.append(f"<ul>{items}</ul>")
        return "\n".join(parts)


@dataclass
class Report:
    """A titled list of sections with a provenance footer.

    Attributes:
        title: page title.
        sections: the sections, in order.
        meta: provenance lines (config, versions, exact or sampled) shown under the title.
    """

    title: str
    sections: list[Section]
    meta: list[str] = field(default_factory=list)

    def to_html(self) -> str:
        meta = "".join(f"<div class='meta'>{html.escape(m)}</div>" for m in self.meta)
        body = "\n".join(s.to_html() for s in self.sections)
        return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}</title>"
                f"<style>{STYLE}</style></head><body><h1>{html.escape(self.title)}</h1>{meta}{body}</body></html>")

    def write(self, path: Path | str) -> Path:
        """Write the report atomically; returns its path."""
        path = Path(path)
        atomic_write_text(path, self.to_html())
        return path
