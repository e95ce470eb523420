"""report.html as a person sees it: rendered by headless Chromium (Debian's `chromium`; .ci/run installs it),
screenshot under the test's temp folder, DOM text checked against the run's numbers."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from jobs.outputs.registry import REPORT_HTML
from tests.conftest import NCT

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


def _chromium(*args: str) -> subprocess.CompletedProcess:
    # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start
    return subprocess.run([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.spark
@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (Debian package `chromium`; "
                                             ".ci/run installs it): the browser check of report.html is skipped")
def test_report_renders_in_chromium_with_the_runs_numbers(e2e, tmp_path):
    page = tmp_path / "report.html"
    shutil.copy(e2e.nct / REPORT_HTML, page)  # a copy: nothing next to it to fetch, as on a USB stick
    dom = _chromium("--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-500:]
    m = e2e.result.manifest
    for cohort, counts in m["trials"][NCT]["status_counts"].items():
        section = dom.stdout.split(f'id="cohort-{cohort}"')[1]
        for status, n in counts.items():
            assert f'class="n-{status}">{n}<' in section, (cohort, status)
        assert 'class="chart funnel"><svg' in section and "remaining" in section
    shot = tmp_path / "report.png"
    done = _chromium("--window-size=1200,1600", f"--screenshot={shot}", page.as_uri())
    assert done.returncode == 0 and shot.exists(), done.stderr[-500:]
    from PIL import Image  # matplotlib's dependency

    img = Image.open(shot).convert("L")
    assert img.size == (1200, 1600)
    colors = img.getcolors(maxcolors=1 << 16) or []
    assert len(colors) > 50, "the page is not blank"
    dark = sum(n for n, v in colors if v < 128)
    assert dark > 0.002 * img.size[0] * img.size[1], "text and bars are drawn"
