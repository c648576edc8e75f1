"""The shared page layout: captioned figures with alt text, folded configuration, relative navigation."""

import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from physlens.report.html import MAX_WIDTH_PX, Figure, Report, Section  # noqa: E402


def figure(title: str = "") -> plt.Figure:
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [1, 0])
    ax.set_title(title)
    return fig


def test_every_figure_has_a_caption_and_alt_text(tmp_path):
    page = Report("t", [Section("Energies", "text", [Figure(figure(), "Energy against step.", alt="a falling line"),
                                                     figure("Relative error"), figure()])]).write(tmp_path / "r.html")
    text = page.read_text()
    assert re.findall(r'alt="([^"]*)"', text) == ["a falling line", "Relative error", "Energies"]
    assert re.findall(r"<figcaption>(.*?)</figcaption>", text) == ["Energy against step.", "Relative error", "Energies"]
    assert len(re.findall(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]+"', text)) == 3
    assert plt.get_fignums() == []


def test_layout_width_subtitle_config_and_navigation():
    text = Report("Run", [Section("S", tables=[pd.DataFrame({"x": [1.5]})])], meta=["exact"], subtitle="per nucleon",
                  config={"lr": 0.30000000000000004}, nav=[("../report.html", "study")]).to_html()
    assert f"max-width: {MAX_WIDTH_PX}px" in text
    assert '<nav><a href="../report.html">study</a></nav>' in text
    assert "<p class='subtitle'>per nucleon</p>" in text
    assert "<details><summary>Configuration (1 row;" in text and "0.30000000000000004" not in text
    assert text.index("Configuration") < text.index("<h2>S</h2>")


def test_a_figure_is_rendered_and_closed_when_it_joins_a_report():
    """A long report must not hold its figures open until it is written (matplotlib warns past 20)."""
    before = len(plt.get_fignums())
    figures = []
    for k in range(25):
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, k])
        figures.append(Figure(fig, f"line {k}"))
    assert len(plt.get_fignums()) == before
    assert all(f.image.startswith(b"\x89PNG") for f in figures)
