"""Login, sessions, CSRF, rate limiting, roles and the audit entries they leave, through
Starlette's TestClient against the app on the hand-made world."""

from __future__ import annotations

import json

import pytest

from custodes.console.app import create_app
from custodes.console.ratelimit import LoginLimiter
from custodes.console.users import UserStore, console_dir

from .helpers import PASSWORDS, HandMadeSources, csrf_of, login, login_token


def audit_entries(ws) -> list[dict]:
    path = console_dir(ws) / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_pages_need_a_login(client):
    for path in ("/incidents", "/incidents/i-forgery", "/findings", "/posture", "/lake", "/audit",
                 "/scope?kind=kid&value=k-2019"):
        r = client.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    assert client.post("/incidents/i-forgery/accounts.csv", data={"csrf": "x"}).status_code == 401


def test_login_sets_a_strict_httponly_session_cookie_and_audits(client, ws):
    r = login(client, "anna")
    assert r.status_code == 303 and r.headers["location"] == "/incidents"
    cookie = [h for h in r.headers.get_list("set-cookie") if h.startswith("custodes_session=")][0]
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=strict" in lowered and "path=/" in lowered
    assert "secure" not in lowered  # plain http on loopback: a Secure cookie would never be sent back
    assert client.get("/incidents").status_code == 200
    last = audit_entries(ws)[-2:]
    assert [e["action"] for e in last] == ["login", "view.incidents"]
    assert last[0]["user"] == "anna" and last[0]["role"] == "analyst"


def test_https_console_uses_host_prefixed_secure_cookie(ws):
    from starlette.testclient import TestClient

    app = create_app(ws, https=True, sources=HandMadeSources(ws), allowed_hosts=["testserver"])
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as c:
        r = login(c, "anna")
        cookie = [h for h in r.headers.get_list("set-cookie") if h.startswith("__Host-custodes_session=")][0]
        assert "secure" in cookie.lower()
        assert c.get("/incidents").headers["strict-transport-security"].startswith("max-age=")


def test_wrong_password_is_refused_and_audited_without_the_password(client, ws):
    r = login(client, "anna", password="analyst-pass-WRONG")
    assert r.status_code == 401 and "Wrong user name or password" in r.text
    assert "custodes_session" not in r.cookies
    assert client.get("/incidents").status_code == 303
    entry = audit_entries(ws)[-1]
    assert entry["action"] == "login.failed" and entry["user"] == "anna"
    assert "analyst-pass-WRONG" not in (console_dir(ws) / "audit.jsonl").read_text()


def test_unknown_user_is_not_named_in_the_audit(client, ws):
    # people type passwords into the name field: an unknown name is not recorded
    r = login(client, "Tr0ub4dor&3-oops", password="whatever-password")
    assert r.status_code == 401
    entry = audit_entries(ws)[-1]
    assert entry["action"] == "login.failed" and entry["user"] is None
    assert "Tr0ub4dor" not in (console_dir(ws) / "audit.jsonl").read_text().lower()


def test_login_rate_limit_blocks_even_the_right_password(ws):
    from starlette.testclient import TestClient

    clock = [0.0]
    limiter = LoginLimiter(max_failures=3, window=600, clock=lambda: clock[0])
    app = create_app(ws, sources=HandMadeSources(ws), allowed_hosts=["testserver"], limiter=limiter)
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as c:
        for _ in range(3):
            assert login(c, "adam", password="guess-guess-guess").status_code == 401
        r = login(c, "adam")
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        assert "Too many failed sign-ins" in r.text
        assert audit_entries(ws)[-1]["action"] == "login.blocked"
        clock[0] += 601  # the window passes
        assert login(c, "adam").status_code == 303


def test_rate_limit_is_per_client_too(ws):
    limiter = LoginLimiter(max_failures=3, client_max_failures=3, window=600)
    for name in ("u1", "u2", "u3"):  # one address spraying different names
        limiter.failed(name, "10.0.0.9")
    assert limiter.retry_after("anna", "10.0.0.9") > 0
    assert limiter.retry_after("anna", "10.0.0.10") == 0


def test_login_form_without_its_token_is_refused(client, ws):
    r = client.post("/login", data={"username": "anna", "password": PASSWORDS["anna"], "login_token": "forged"})
    assert r.status_code == 403 and "custodes_session" not in r.cookies
    assert audit_entries(ws)[-1]["action"] == "login.csrf_refused"


def test_cross_site_login_post_is_refused(client):
    page = client.get("/login")
    r = client.post("/login", headers={"origin": "https://evil.example", "sec-fetch-site": "cross-site"},
                    data={"username": "anna", "password": PASSWORDS["anna"], "login_token": login_token(page.text)})
    assert r.status_code == 403


def test_export_without_csrf_token_is_refused(as_role, ws):
    client = as_role("anna")
    r = client.post("/incidents/i-forgery/accounts.csv", data={"csrf": "not-the-token"})
    assert r.status_code == 403
    assert audit_entries(ws)[-1]["action"] == "csrf_refused"
    r = client.post("/incidents/i-forgery/accounts.csv", data={"other": "field"})
    assert r.status_code == 403


def test_export_with_csrf_token_gives_the_contract_csv_and_is_audited(as_role, ws):
    client = as_role("anna")
    token = csrf_of(client.get("/incidents/i-forgery").text)
    r = client.post("/incidents/i-forgery/accounts.csv", data={"csrf": token})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    assert r.headers["cache-control"].startswith("no-store")
    lines = r.text.splitlines()
    assert lines[0] == "account_id,first_access,last_access,requests,fields"
    assert len(lines) == 31
    assert lines[1] == "c-1000,2025-04-14T03:00:00Z,2025-04-14T03:00:20Z,2,name;email;phone;address"
    entry = audit_entries(ws)[-1]
    assert entry["action"] == "export.accounts" and entry["target"] == "i-forgery"
    assert entry["detail"] == {"rows": 30} and entry["user"] == "anna"


def test_csrf_token_is_bound_to_the_session(ws):
    from starlette.testclient import TestClient

    app = create_app(ws, sources=HandMadeSources(ws), allowed_hosts=["testserver"])
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as a, \
            TestClient(app, base_url="http://testserver", follow_redirects=False) as b:
        login(a, "anna")
        login(b, "adam")
        token_a = csrf_of(a.get("/incidents").text)
        assert b.post("/incidents/i-forgery/accounts.csv", data={"csrf": token_a}).status_code == 403


def test_viewer_sees_totals_but_not_account_ids_and_cannot_export(as_role, ws):
    client = as_role("vera")
    r = client.get("/incidents/i-forgery")
    assert r.status_code == 200
    assert 'id="blast-accounts">30<' in r.text
    assert "c-1000" not in r.text and "Export accounts CSV" not in r.text
    assert "sees totals only" in r.text
    assert "view.accounts" not in [e["action"] for e in audit_entries(ws)]
    r = client.post("/incidents/i-forgery/accounts.csv", data={"csrf": csrf_of(r.text)})
    assert r.status_code == 403
    assert audit_entries(ws)[-1]["action"] == "denied"


def test_analyst_view_of_account_ids_is_audited_with_counts_only(as_role, ws):
    client = as_role("anna")
    r = client.get("/incidents/i-forgery")
    assert "c-1000" in r.text and "c-1029" in r.text and "c-0001" not in r.text
    views = [e for e in audit_entries(ws) if e["action"] == "view.accounts"]
    assert len(views) == 1 and views[0]["target"] == "i-forgery"
    assert views[0]["detail"] == {"accounts_shown": 30, "accounts_total": 30}
    assert "c-1000" not in (console_dir(ws) / "audit.jsonl").read_text()


@pytest.mark.parametrize("name,status", [("vera", 403), ("anna", 403), ("adam", 200)])
def test_audit_trail_page_is_for_admins_only(as_role, name, status):
    r = as_role(name).get("/audit")
    assert r.status_code == status
    if status == 200:
        assert "Hash chain intact" in r.text


def test_audit_link_shown_only_to_admins(as_role):
    assert 'href="/audit"' not in as_role("anna").get("/incidents").text


def test_logout_needs_csrf_and_ends_the_session(as_role, ws):
    client = as_role("anna")
    assert client.post("/logout", data={"csrf": "nope"}).status_code == 403
    token = csrf_of(client.get("/incidents").text)
    r = client.post("/logout", data={"csrf": token})
    assert r.status_code == 303
    assert client.get("/incidents").status_code == 303
    assert audit_entries(ws)[-1]["action"] == "logout"


def test_removed_user_loses_access_at_once(as_role, ws):
    client = as_role("anna")
    assert client.get("/incidents").status_code == 200
    UserStore.of(ws).remove("anna")
    assert client.get("/incidents").status_code == 303


def test_demoted_user_loses_account_ids_at_once(as_role, ws):
    client = as_role("anna")
    assert "c-1000" in client.get("/incidents/i-forgery").text
    UserStore.of(ws, log2_n=12).add("anna", "viewer", PASSWORDS["anna"], replace=True)
    assert "c-1000" not in client.get("/incidents/i-forgery").text


@pytest.mark.parametrize("target", ["//evil.example/phish", "https://evil.example/", "/\\evil.example"])
def test_open_redirect_after_login_is_refused(client, target):
    r = login(client, "anna", next_path=target)
    assert r.status_code == 303 and r.headers["location"] == "/incidents"


def test_login_returns_to_the_page_asked_for(client):
    r = client.get("/incidents/i-forgery")
    assert r.headers["location"] == "/login?next=%2Fincidents%2Fi-forgery"
    page = client.get(r.headers["location"])
    r = client.post("/login", data={"username": "anna", "password": PASSWORDS["anna"],
                                    "login_token": login_token(page.text), "next": "/incidents/i-forgery"})
    assert r.headers["location"] == "/incidents/i-forgery"
    assert 'name="next" value="/incidents/i-forgery"' in page.text


def test_form_bodies_are_parsed_strictly(as_role):
    client = as_role("anna")
    token = csrf_of(client.get("/incidents").text)
    r = client.post("/logout", content=f"csrf={token}&csrf={token}",
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400
    r = client.post("/logout", content=b'{"csrf": "x"}', headers={"content-type": "application/json"})
    assert r.status_code == 400
    r = client.post("/logout", content=b"csrf=" + b"a" * 20000,
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400


def test_unknown_host_header_is_refused(client):
    r = client.get("/login", headers={"host": "rebound.evil.example"})
    assert r.status_code == 400


def test_notification_list_with_contacts_is_for_admins_and_audited(as_role, ws):
    client = as_role("adam")
    html = client.get("/incidents/i-forgery").text
    assert "Export notification list" in html
    r = client.post("/incidents/i-forgery/notification-list.csv", data={"csrf": csrf_of(html)})
    assert r.status_code == 200, r.text
    lines = r.text.splitlines()
    assert lines[0] == "account_id,name,email,phone,fields,first_access,last_access" and len(lines) == 31
    assert "c-1000,Customer c-1000,c-1000@mail.example" in r.text
    assert any(line.startswith("c-1029,,,,") for line in lines)  # no directory entry: still listed
    entry = audit_entries(ws)[-1]
    assert entry["action"] == "export.contacts" and entry["detail"] == {"rows": 30}
    assert "mail.example" not in (console_dir(ws) / "audit.jsonl").read_text()
    from custodes.respond.audit import read_audit  # respond's own export log names the console user

    assert any(e.get("by") == "console:adam" and e.get("rows") == 30 for e in read_audit(ws))
    assert not list(console_dir(ws).glob(".export-*"))  # the temporary file is gone


def test_analysts_cannot_export_contacts(as_role, ws):
    client = as_role("anna")
    html = client.get("/incidents/i-forgery").text
    assert "Export notification list" not in html
    r = client.post("/incidents/i-forgery/notification-list.csv", data={"csrf": csrf_of(html)})
    assert r.status_code == 403 and audit_entries(ws)[-1]["action"] == "denied"
