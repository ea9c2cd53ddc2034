"""The demo's HTML page renders in headless Chromium without console errors (screenshot taken)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from specfit.demo import run_demo

CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).exists()), None) or (
    shutil.which("chromium")
)


@pytest.mark.slow
def test_report_renders_without_console_errors(tmp_path):
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    if CHROMIUM is None:
        pytest.skip("no Chromium on this machine (CI installs Debian's chromium)")
    page_path = run_demo(tmp_path / "report", show_progress=False)
    errors: list[str] = []
    failed: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("requestfailed", lambda req: failed.append(req.url))
        page.goto(page_path.as_uri())
        page.wait_for_load_state("load")
        images = page.eval_on_selector_all("img", "els => els.map(e => [e.src, e.naturalWidth])")
        headings = page.eval_on_selector_all("h2", "els => els.map(e => e.textContent)")
        summary_rows = page.eval_on_selector_all("#summary + table tbody tr", "els => els.length")
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert errors == []
    assert "Failed steps" not in headings
    for part in ("Summary", "XPS · peak fits", "Raman", "XRD", "ToF-SIMS"):
        assert any(part in h for h in headings), (part, headings)
    assert summary_rows >= 20
    assert failed == []
    assert images, "the report shows no figures"
    assert all(width > 0 for _, width in images), [src for src, w in images if w == 0]
    assert shot.stat().st_size > 10_000
