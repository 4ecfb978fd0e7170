"""The label inspector page in a real headless Chromium (Debian's, driven by Playwright).

Types a report, submits it, and checks the rendered table and the evidence highlights; a
screenshot is kept in test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.service.server import Server

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPORT = (
    "FINDINGS: Small left pleural effusion. No pneumothorax.\nIMPRESSION: Possible left lower lobe pneumonia."
)


@pytest.fixture(scope="module")
def rules_server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("inspector") / "log", args=["--labeler", "rules"])
    srv.wait_ready()
    yield srv
    srv.terminate()


def test_inspector_labels_a_typed_report_and_highlights_evidence(rules_server):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1100, "height": 1000})
        page.goto(rules_server.url + "/")
        page.fill("#text", REPORT)
        page.click("#submit")
        page.wait_for_selector("#out:not([hidden])")
        rows = {
            r.get_attribute("data-finding"): [c.inner_text() for c in r.query_selector_all("td")]
            for r in page.query_selector_all("#labels tbody tr")
        }
        assert len(rows) == 18  # 17 findings + the derived no_finding
        assert rows["pleural_effusion"][1:5] == ["present", "3", "-0.251", "1.1255"]
        assert rows["pneumothorax"][1:3] == ["absent", "-3"]
        assert rows["pneumonia"][1] == "uncertain" and rows["pneumonia"][2] == "1"
        assert rows["cardiomegaly"][1] == "not_mentioned" and rows["cardiomegaly"][2] == ""
        marks = {m.get_attribute("data-finding"): m for m in page.query_selector_all("#report mark")}
        assert {"pleural_effusion", "pneumothorax", "pneumonia"} <= set(marks)
        assert "effusion" in marks["pleural_effusion"].inner_text().lower()
        assert marks["pleural_effusion"].get_attribute("class") == "u3"
        assert marks["pneumothorax"].get_attribute("class") == "um3"
        assert page.inner_text("#report") == REPORT  # highlighting keeps the text intact
        assert page.get_attribute("#json", "href").startswith("blob:")
        out = ROOT / "test-artifacts"
        out.mkdir(exist_ok=True)
        page.screenshot(path=str(out / "inspector.png"), full_page=True)
        # an error is shown, not swallowed
        page.fill("#text", "   ")
        page.click("#submit")
        page.wait_for_function("document.getElementById('error').textContent.length > 0")
        assert "400 invalid_input" in page.inner_text("#error")
        browser.close()
