"""The console in a real browser: Debian's Chromium driven by Playwright, against the console
served by uvicorn on a loopback port. Screenshots go to $CUSTODES_SCREENSHOTS (default: the
test's tmp dir) so a person can look at them."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from custodes.console.app import create_app

from .helpers import PASSWORDS, HandMadeSources

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("Debian's chromium is not installed (scripts/setup.sh installs it)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")


@pytest.fixture(scope="module")
def server(world_root, tmp_path_factory):
    import uvicorn

    from custodes.workspace import Workspace

    root = tmp_path_factory.mktemp("browser") / "ws"
    shutil.copytree(world_root, root)
    ws = Workspace.open(root)
    app = create_app(ws, sources=HandMadeSources(ws))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}", ws
    srv.should_exit = True
    thread.join(timeout=5)
    sock.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    out = Path(os.environ.get("CUSTODES_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    return out


def sign_in(page, base: str, name: str) -> None:
    page.goto(f"{base}/incidents")
    assert page.url.startswith(f"{base}/login")  # not signed in: sent to the login page
    page.fill("#username", name)
    page.fill("#password", PASSWORDS[name])
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/incidents")


def test_analyst_opens_incident_and_sees_blast_radius(server, browser, shots):
    base, ws = server
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, base, "anna")
    assert page.locator("table.grid tbody tr").count() == 2
    page.screenshot(path=str(shots / "incidents.png"), full_page=True)
    page.click("text=Forged customer tokens signed with k-2019")
    page.wait_for_url(f"{base}/incidents/i-forgery")
    assert page.inner_text("#blast-accounts") == "30"
    assert page.locator("#accounts tbody tr").count() == 30
    assert page.locator("#accounts tbody tr").first.inner_text().startswith("c-1000")
    # the charts are inline SVG: one bar per day of the attack, one per personal-data item
    assert page.locator("#blast-radius svg rect.bar").count() == 3 + 4  # days 14-16; name, email, phone, address
    page.screenshot(path=str(shots / "incident.png"), full_page=True)
    # nothing was blocked by the CSP or failed to load
    assert not [e for e in errors if "Content Security Policy" in e or "Failed to load" in e], errors
    # the download of the accounts is a CSRF-protected POST, audited
    with page.expect_download() as dl:
        page.click("text=Export accounts CSV")
    lines = Path(dl.value.path()).read_text().splitlines()
    assert lines[0] == "account_id,first_access,last_access,requests,fields" and len(lines) == 31
    actions = [e["action"] for e in ws_audit(ws)]
    assert "view.accounts" in actions and "export.accounts" in actions
    context.close()


def test_viewer_sees_totals_but_no_account_ids(server, browser, shots):
    base, _ws = server
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    sign_in(page, base, "vera")
    page.goto(f"{base}/incidents/i-forgery")
    assert page.inner_text("#blast-accounts") == "30"
    assert page.locator("#accounts").count() == 0
    assert "c-1000" not in page.content()
    assert page.locator("text=Export accounts CSV").count() == 0
    page.goto(f"{base}/posture")
    assert "ak-1" in page.inner_text("#departed-credentials")
    assert "k-2019" in page.inner_text("#departed-custodians")
    page.screenshot(path=str(shots / "posture.png"), full_page=True)
    context.close()


def test_login_page_and_wrong_password(server, browser, shots):
    base, _ws = server
    context = browser.new_context(viewport={"width": 1200, "height": 760})
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("#username", "adam")
    page.fill("#password", "not-the-password")
    page.click("button[type=submit]")
    assert "Wrong user name or password" in page.inner_text(".error")
    page.screenshot(path=str(shots / "login.png"))
    cookies = {c["name"]: c for c in context.cookies()}
    assert "custodes_session" not in cookies
    context.close()


def test_a_password_reset_ends_a_browser_session(server, browser):
    from custodes.console.users import UserStore

    base, ws = server
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, base, "vera")
    store = UserStore.of(ws, log2_n=12)
    try:
        store.add("vera", "viewer", "a-brand-new-viewer-pass", replace=True)  # custodes serve --add-user --replace
        page.goto(f"{base}/incidents")
        assert page.url.startswith(f"{base}/login")
    finally:
        store.add("vera", "viewer", PASSWORDS["vera"], replace=True)
    context.close()


def test_a_failed_sign_in_keeps_the_name_typed_whoever_it_names(server, browser):
    base, _ws = server
    context = browser.new_context()
    page = context.new_page()
    for name in ("adam", "no-such-user"):
        page.goto(f"{base}/login")
        page.fill("#username", name)
        page.fill("#password", "not-the-password")
        page.click("button[type=submit]")
        assert "Wrong user name or password" in page.inner_text(".error")
        assert page.input_value("#username") == name
    context.close()


def ws_audit(ws):
    from custodes.console.audit import AuditTrail
    from custodes.console.users import console_dir

    return AuditTrail(console_dir(ws) / "audit.jsonl").tail(1000)
