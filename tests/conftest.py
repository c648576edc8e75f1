"""Test-wide fixtures: exact references are cached in a per-session folder; reports are measured in
headless Chromium (``chromium_measure``; skipped where the Debian package ``chromium`` is missing)."""

import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

BROWSER_WIDTH = 1400
"""Window width (px) at which every report must fit."""

MEASURE = """<script>
window.addEventListener('load', () => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const images = Array.from(document.images);
  const out = {
    innerWidth: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    images: images.length,
    decoded: images.filter(i => i.complete && i.naturalWidth > 0).length,
    with_alt: images.filter(i => i.alt.trim().length > 0).length,
    captioned: images.filter(i => { const f = i.closest('figure');
                                    return f && f.querySelector('figcaption') && f.querySelector('figcaption').textContent.trim(); }).length,
    max_aspect: Math.max(0, ...images.filter(i => i.naturalHeight > 0).map(i => i.naturalWidth / i.naturalHeight)),
    requests: performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith('data:')),
  };
  const pre = document.createElement('pre');
  pre.id = 'physlens-measure';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""
ABSOLUTE_OR_EXTERNAL = re.compile(r"file://|/tmp/|/work/|/home/|(?:src|href)\s*=\s*[\"']?(?:/|https?://|//)", re.IGNORECASE)


def measure_in_chromium(page: Path) -> dict:
    """Open a copy of ``page`` (beside it, so relative links resolve alike) with the measuring script in Chromium."""
    probe = page.with_name(f"{page.stem}.probe.html").resolve()
    probe.write_text(page.read_text().replace("</body>", MEASURE + "</body>"))
    try:
        with tempfile.TemporaryDirectory() as profile:
            dom = subprocess.run([shutil.which("chromium"), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                                  "--no-first-run", "--disable-background-networking", "--disable-component-update",
                                  "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
                                  f"--window-size={BROWSER_WIDTH},900", "--virtual-time-budget=10000", "--dump-dom",
                                  probe.as_uri()], capture_output=True, text=True, timeout=120).stdout
    finally:
        probe.unlink()
    found = re.search(r'<pre id="physlens-measure">(.*?)</pre>', dom, re.S)
    assert found, f"the measuring script did not run on {page.name}"
    return json.loads(html.unescape(found.group(1)))




@pytest.fixture(scope="session", autouse=True)
def physlens_cache(tmp_path_factory):
    """Point PHYSLENS_CACHE at a fresh folder so every test session computes its own references."""
    mp = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("physlens-cache")
    mp.setenv("PHYSLENS_CACHE", str(path))
    yield path
    mp.undo()


@pytest.fixture(scope="session")
def browser():
    """The report checks: ``measure(page)`` in Chromium, the ``width`` it renders at and the ``forbidden`` pattern
    of absolute paths and external resources; a skip where Chromium is not installed."""
    if shutil.which("chromium") is None:
        pytest.skip("headless Chromium (Debian package `chromium`) is not installed")
    return SimpleNamespace(measure=measure_in_chromium, width=BROWSER_WIDTH, forbidden=ABSOLUTE_OR_EXTERNAL)
