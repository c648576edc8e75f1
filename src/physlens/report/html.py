"""Self-contained HTML reports in one shared layout: sections of prose, captioned figures and tables.

A report never computes: it is handed finished figures and tables. Figures are embedded
as base64 PNG so a report is one file that can be mailed or committed and opened offline.
Every page has the same layout: a maximum content width, wide tables in horizontal scroll
containers, long tables folded, numbers to a few significant figures, human column names
with units, a caption and alt text on every figure, the configuration as a table, and
relative links to the pages around it.

Usage::

    page = Report("Hidden units of ring8", [
        Section("Training", "Energy against the exact reference.",
                figures=[Figure(fig, "Energy and relative error against the SR step.")],
                tables=[Table(frame, "Summary", unit="J")]),
    ], meta=["exact sums over the basis"], config=run.config, nav=[("../report.html", "study")])
    page.write("runs/ring8/report.html")
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

from physlens.report.tables import Table, config_frame
from physlens.runs import atomic_write_text

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (backend first)

PAGE_START = "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><meta name='generator' content='physlens'>"
"""How every physlens page begins: a command may replace a file that starts so (its own earlier report)."""

MAX_WIDTH_PX = 1100
"""Width of a report's content column; wider tables scroll inside it."""
STYLE = f"""
*, *::before, *::after {{ box-sizing: border-box; }}
body {{ font-family: system-ui, sans-serif; max-width: {MAX_WIDTH_PX}px; margin: 0 auto; padding: 1.5em 1em 3em;
       color: #222; line-height: 1.45; }}
p, li, figcaption, .meta {{ overflow-wrap: anywhere; }}
h1 {{ font-size: 1.6em; margin-bottom: .2em; }} .subtitle {{ font-size: 1.1em; color: #444; margin-top: 0; }}
h2 {{ font-size: 1.25em; border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 2em; }}
nav {{ font-size: .9em; margin-bottom: 1em; }} nav a {{ margin-right: 1.2em; }}
figure {{ display: inline-block; vertical-align: top; margin: .6em 1.2em .6em 0; max-width: 100%; }}
figure img {{ display: block; max-width: 100%; height: auto; }}
figcaption {{ font-size: .85em; color: #444; max-width: 60em; margin-top: .3em; }}
.scroll {{ max-width: 100%; overflow-x: auto; margin: .8em 0; }}
table {{ border-collapse: collapse; font-size: .85em; }}
caption {{ caption-side: top; text-align: left; font-weight: 600; padding: .2em 0; }}
th, td {{ border: 1px solid #ccc; padding: .25em .6em; text-align: left; }} td {{ min-width: 4em; max-width: 40em; }}
td.n {{ text-align: right; white-space: nowrap; min-width: 0; }} td.s {{ white-space: nowrap; }}
th {{ background: #f3f3f3; text-align: center; }}
details {{ margin: .8em 0; }} summary {{ cursor: pointer; color: #1a5276; }}
.meta {{ color: #666; font-size: .85em; }}
"""


def figure_png(fig: plt.Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes; the figure is closed."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _titles(fig: plt.Figure) -> str:
    """The figure's suptitle, else its panels' titles joined."""
    return fig.get_suptitle() or "; ".join(t for t in (ax.get_title() for ax in fig.axes) if t)


@dataclass
class Figure:
    """A figure of a report.

    Attributes:
        image: a matplotlib figure (rendered to PNG and closed at once, so that a long report holds no open
            figures) or PNG bytes.
        caption: what the figure shows, shown under it.
        alt: text for readers who cannot see the image (default: the caption).
    """

    image: plt.Figure | bytes
    caption: str
    alt: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.image, bytes):
            self.image = figure_png(self.image)

    def to_html(self) -> str:
        """The figure as ``<figure>`` with an embedded PNG, alt text and a caption."""
        data = base64.b64encode(self.image).decode()
        alt = html.escape(self.alt or self.caption, quote=True)
        return (f'<figure><img src="data:image/png;base64,{data}" alt="{alt}">'
                f"<figcaption>{html.escape(self.caption)}</figcaption></figure>")


def as_figure(item: Figure | plt.Figure, fallback: str) -> Figure:
    """``item`` as a ``Figure``; a bare matplotlib figure is captioned by its titles, else ``fallback``."""
    if isinstance(item, Figure):
        return item
    return Figure(item, _titles(item) or fallback)


@dataclass
class Section:
    """One part of a report.

    Attributes:
        title: section heading.
        text: prose (plain text; paragraphs separated by blank lines).
        figures: ``Figure``s (or bare matplotlib figures, captioned by their titles), embedded in order.
        tables: ``Table``s (or DataFrames, shown with default labels), in order.
        links: (relative address, text) pairs shown as a list of links (e.g. to feature pages).
        unit: energy unit for the labels of bare DataFrames.
    """

    title: str
    text: str = ""
    figures: list = field(default_factory=list)
    tables: list = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    unit: str = "J"

    def to_html(self) -> str:
        """The section's heading, paragraphs, figures, tables and links."""
        parts = [f"<section><h2>{html.escape(self.title)}</h2>"]
        parts += [f"<p>{html.escape(p.strip())}</p>" for p in self.text.split("\n\n") if p.strip()]
        parts += [as_figure(fig, self.title).to_html() for fig in self.figures]
        for table in self.tables:
            parts.append((table if isinstance(table, Table) else Table(table, unit=self.unit)).to_html())
        if self.links:
            parts.append(link_list(self.links))
        parts.append("</section>")
        return "\n".join(parts)


def link_list(links: list[tuple[str, str]]) -> str:
    """(relative address, text) pairs as an HTML list."""
    items = "".join(f'<li><a href="{html.escape(href, quote=True)}">{html.escape(text)}</a></li>' for href, text in links)
    return f"<ul>{items}</ul>"


@dataclass
class Report:
    """A titled list of sections in the shared layout.

    Attributes:
        title: page title.
        sections: the sections, in order.
        meta: provenance lines (versions, exact or sampled) shown under the title.
        subtitle: one line under the title that tells this page from its siblings.
        config: the configuration, shown as a parameter/value table (folded) after the meta lines.
        nav: (relative address, text) links to the pages around this one (study, parent report).
    """

    title: str
    sections: list[Section]
    meta: list[str] = field(default_factory=list)
    subtitle: str = ""
    config: dict | None = None
    nav: list[tuple[str, str]] = field(default_factory=list)

    def to_html(self) -> str:
        """The whole page."""
        nav = " ".join(f'<a href="{html.escape(h, quote=True)}">{html.escape(t)}</a>' for h, t in self.nav)
        head = [f"<nav>{nav}</nav>" if nav else "", f"<h1>{html.escape(self.title)}</h1>"]
        if self.subtitle:
            head.append(f"<p class='subtitle'>{html.escape(self.subtitle)}</p>")
        head += [f"<div class='meta'>{html.escape(m)}</div>" for m in self.meta]
        if self.config:
            head.append(Table(config_frame(self.config), "Configuration", fold_after=0).to_html())
        body = "\n".join(s.to_html() for s in self.sections)
        return (f"{PAGE_START}<meta name='viewport' content='width=device-width, initial-scale=1'>"
                f"<title>{html.escape(self.title)}</title><style>{STYLE}</style></head>"
                f"<body>{''.join(head)}\n{body}</body></html>")

    def write(self, path: Path | str) -> Path:
        """Write the report atomically; returns its path."""
        path = Path(path)
        atomic_write_text(path, self.to_html())
        return path

