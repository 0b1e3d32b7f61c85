"""report.html in a real browser: headless Chromium draws every chart, offline, without errors.

The report on CDNOW (scores from BG/NBD at 1998-06-30, the evaluation at 1997-12-31) is opened
from disk with every host name unresolvable, so a chart can only render from the inlined
plotly.js. The DOM after rendering must hold a plotly SVG in every chart and no script error;
a screenshot of the page is kept in build/screenshots/report.png for a human to look at.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from churnml.models import make_scorer
from churnml.report import CHARTS
from churnml.scoring import score_with
from churnml.workflows.reporting import write_report
from tests.conftest import ROOT

SCREENSHOT = ROOT / "build" / "screenshots" / "report.png"
WIDTH, HEIGHT = 1200, 8000
# each Chromium run is a few seconds; a hang (a dialog, a stuck GPU process) must not block CI
TIMEOUT = 60


@pytest.fixture(scope="session")
def chromium() -> str:
    """The browser, looked for before the (session-scoped) CDNOW fits so a skip is instant."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CHURNML_REQUIRE_CHROMIUM") == "1":
            pytest.fail("CHURNML_REQUIRE_CHROMIUM=1 but no chromium or chromium-browser on PATH")
        pytest.skip("no chromium or chromium-browser on PATH (apt-get install chromium)")
    return found


def _run(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        # offline: any request to any host fails, so charts can only come from the file
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)


class _Charts(HTMLParser):
    """Per chart wrapper: does a plotly SVG (``svg.main-svg``) sit inside it?"""

    def __init__(self) -> None:
        super().__init__()
        self.svg: dict[str, bool] = {}
        self.text: dict[str, str] = {}
        self.errors: list[str] = []
        self._open: list[str | None] = []  # the chart each open div belongs to
        self._current: str | None = None
        self._in_error_box = False
        self._in_code = False  # script and style text is code, not what the page shows

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("script", "style"):
            self._in_code = True
        if tag == "html" and "data-errors" in a:
            self.errors.append("html[data-errors] is set")
        if a.get("id") == "report-errors":
            self._in_error_box = True
        if tag == "div":
            if a.get("class") == "chart" and a.get("data-chart"):
                self._current = a["data-chart"]
                self.svg[self._current] = False
                self.text[self._current] = ""
                self._open.append(self._current)
            else:
                self._open.append(None)
        if self._current and tag == "svg" and "main-svg" in (a.get("class") or "").split():
            self.svg[self._current] = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._in_code = False
        if tag == "div" and self._open:
            self._in_error_box = False
            if self._open.pop() is not None:
                self._current = None

    def handle_data(self, data: str) -> None:
        if self._in_code:
            return
        if self._in_error_box and data.strip():
            self.errors.append(data.strip())
        if self._current:
            self.text[self._current] += data


def _png_size_and_colours(path: Path) -> tuple[int, int, int]:
    """Width, height and number of distinct byte values of the decoded image rows."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            chunks.append(data[pos + 8 : pos + 8 + length])
        pos += 12 + length
    # a blank page decodes to one or two byte values; a drawn one to most of the 256
    return width, height, len(set(zlib.decompress(b"".join(chunks))))


@pytest.mark.slow
def test_every_chart_renders_offline_in_headless_chromium(
    chromium, cdnow_tx, cdnow_evaluation, tmp_path
):
    scorer = make_scorer("bgnbd")
    scorer.fit(cdnow_tx, "1998-06-30", horizon_days=90)
    scores = score_with(scorer, cdnow_tx, "1998-06-30", 90, "bgnbd-test")
    report = write_report(
        cdnow_tx,
        tmp_path / "report.html",
        scores=scores,
        as_of="1998-06-30",
        evaluation=cdnow_evaluation,
        horizon_days=90,
        acquisition={"acquisition_cost": 20.0, "order_value": 35.0, "margin": 0.3},
        top=20,
    )
    assert report.charts == CHARTS
    url = report.path.resolve().as_uri()

    done = _run(chromium, tmp_path / "profile-dom", "--dump-dom", url)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = _Charts()
    dom.feed(done.stdout)
    assert set(dom.svg) == set(CHARTS), "chart wrappers missing from the rendered DOM"
    blank = [name for name, drawn in dom.svg.items() if not drawn]
    assert blank == [], f"charts without a plotly SVG: {blank}"
    assert dom.errors == [], dom.errors
    for name, text in dom.text.items():
        assert "error" not in text.lower(), f"{name}: {text[:300]}"

    shot = tmp_path / "report.png"
    done = _run(
        chromium,
        tmp_path / "profile-shot",
        f"--screenshot={shot}",
        f"--window-size={WIDTH},{HEIGHT}",
        url,
    )
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, SCREENSHOT)
    width, height, colours = _png_size_and_colours(SCREENSHOT)
    assert (width, height) == (WIDTH, HEIGHT)
    assert SCREENSHOT.stat().st_size > 50_000 and colours > 100, "the screenshot looks blank"
