"""Triage in a real browser (Debian's Chromium through Playwright, the console on a loopback
port): an analyst suppresses an alerted incident's address and its new evidence alerts nothing;
they resolve it and lift the suppression; new evidence reopens it and alerts `reopened`."""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
import yaml

from custodes.alerts import process
from custodes.console.app import create_app
from custodes.detect import store
from custodes.workspace import Workspace

from ..console.helpers import PASSWORDS, HandMadeSources

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("Debian's chromium is not installed (scripts/setup.sh installs it)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")


@pytest.fixture
def served(triage_world_root, tmp_path):
    import uvicorn

    root = tmp_path / "ws"
    shutil.copytree(triage_world_root, root)
    ws = Workspace.open(root)
    sink = tmp_path / "alerts.jsonl"
    ws.config_path.write_text(yaml.safe_dump({"alerts": {"sinks": [{"type": "file", "path": str(sink)}]}}))
    app = create_app(ws, sources=HandMadeSources(ws))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert srv.started
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", ws, sink
    srv.should_exit = True
    thread.join(timeout=5)
    sock.close()


def _alerts(sink: Path, incident_id: str) -> list[str]:
    if not sink.exists():
        return []
    return [a["event"] for a in map(json.loads, sink.read_text().splitlines()) if a["incident_id"] == incident_id]


def _more_evidence(ws, last_seen: str, requests: int, src_ip: str) -> None:
    """What the next detection run would store: the forgery went on, from one more address."""
    findings = store.load_findings_raw(ws)
    for f in findings:
        if f["finding_id"] == "f-unissued":
            f["last_seen"], f["evidence"] = last_seen, {"requests": requests, "accounts": requests // 2}
            f["entities"]["src_ip"] = sorted({*f["entities"]["src_ip"], src_ip})
    incidents = store.load_incidents_raw(ws)
    incidents[0]["entities"]["src_ip"] = sorted({*incidents[0]["entities"]["src_ip"], src_ip})
    store.save(ws, findings, incidents)


def test_suppression_silences_and_new_evidence_reopens_in_the_console(served, tmp_path):
    base, ws, sink = served
    process(ws)
    assert _alerts(sink, "i-forgery") == ["opened"]
    shots = Path(os.environ.get("CUSTODES_SCREENSHOTS") or tmp_path)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_context(viewport={"width": 1440, "height": 1100}).new_page()
        page.goto(f"{base}/incidents/i-forgery")
        page.fill("#username", "anna")
        page.fill("#password", PASSWORDS["anna"])
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/incidents/i-forgery")
        assert page.inner_text("#triage-state") == "new"

        # suppress the forger's address (both findings carry it) for a day
        page.select_option("#triage-suppress select[name=what]", "entity:src_ip=203.0.113.7")
        page.select_option("#triage-suppress select[name=duration]", "1d")
        page.fill("#triage-suppress input[name=reason]", "red-team exercise")
        page.click("#triage-suppress button")
        page.wait_for_url(f"{base}/incidents/i-forgery#triage")
        assert page.inner_text("#triage-suppressed") == "suppressed"
        page.screenshot(path=str(shots / "triage-suppressed.png"), full_page=True)
        _more_evidence(ws, "2025-04-16T09:00:00Z", 200, "203.0.113.8")  # would be `updated`
        assert process(ws).enqueued == [] and _alerts(sink, "i-forgery") == ["opened"]

        # resolve it, then lift the suppression: a closed incident stays quiet
        page.click("#triage-actions button:has-text('Resolve')")
        page.wait_for_url(f"{base}/incidents/i-forgery#triage")
        assert page.inner_text("#triage-state") == "resolved"
        page.click("#suppressions button:has-text('Lift')")
        page.wait_for_url(f"{base}/incidents/i-forgery#triage")
        assert page.inner_text("#triage-suppressed") == "on"
        assert process(ws).enqueued == [] and _alerts(sink, "i-forgery") == ["opened"]

        # detection finds more of the forgery: the incident reopens and alerts
        _more_evidence(ws, "2025-04-17T08:00:00Z", 400, "203.0.113.9")
        report = process(ws)
        assert report.reopened == ["i-forgery"] and _alerts(sink, "i-forgery") == ["opened", "reopened"]
        page.reload()
        assert page.inner_text("#triage-state") == "new"
        history = page.inner_text("#triage-history")
        assert "reopened" in history and "anna" in history and "custodes" in history
        page.screenshot(path=str(shots / "triage-reopened.png"), full_page=True)
        browser.close()
    actions = [json.loads(line)["action"] for line in (ws.root / "console" / "audit.jsonl").read_text().splitlines()]
    assert {"triage.suppress", "triage.resolve", "triage.lift"} <= set(actions)
