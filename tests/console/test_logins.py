"""Logins against someone who wants to lock others out or tell users apart: failures back off per
(user, client), the client is the real one behind a trusted proxy and a forged X-Forwarded-For
buys nothing, the form answers known and unknown names alike, and a password reset ends the
sessions opened with the old password."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from starlette.testclient import TestClient

from custodes.console.app import create_app
from custodes.console.clients import client_address, parse_proxies
from custodes.console.ratelimit import LoginLimiter
from custodes.console.users import UserStore

from .helpers import PASSWORDS, HandMadeSources, login, login_token
from .test_auth import audit_entries


def _client(app, address: str, **headers) -> TestClient:
    return TestClient(app, base_url="http://testserver", follow_redirects=False, client=(address, 40000),
                      headers=headers)


def _app(ws, **kwargs):
    return create_app(ws, sources=HandMadeSources(ws), allowed_hosts=["testserver"], **kwargs)


def test_failing_on_purpose_does_not_lock_the_admin_out(ws):
    app = _app(ws)
    with _client(app, "198.51.100.66") as attacker, _client(app, "198.51.100.10") as admin:
        for _ in range(8):
            attacker_status = login(attacker, "adam", password="guess-guess-guess").status_code
        assert attacker_status == 429  # the one guessing backs off
        assert login(admin, "adam").status_code == 303  # the admin, elsewhere, signs in


def test_back_off_grows_with_each_failure(ws):
    clock = [0.0]
    limiter = LoginLimiter(clock=lambda: clock[0])
    for _ in range(5):
        limiter.failed("adam", "198.51.100.66")
    assert limiter.retry_after("adam", "198.51.100.66") == 60
    clock[0] += 61
    limiter.failed("adam", "198.51.100.66")
    assert limiter.retry_after("adam", "198.51.100.66") == 120
    assert limiter.retry_after("adam", "198.51.100.10") == 0 and limiter.retry_after("anna", "198.51.100.66") == 0


def test_behind_a_trusted_proxy_each_client_has_its_own_budget(ws):
    app = _app(ws, trusted_proxies=["10.0.0.1"])
    with _client(app, "10.0.0.1", **{"x-forwarded-for": "203.0.113.66"}) as attacker, \
            _client(app, "10.0.0.1", **{"x-forwarded-for": "203.0.113.10"}) as admin:
        for _ in range(8):
            attacker_status = login(attacker, "adam", password="guess-guess-guess").status_code
        assert attacker_status == 429
        assert login(admin, "adam").status_code == 303
    clients = {e["client"] for e in audit_entries(ws)}
    assert {"203.0.113.66", "203.0.113.10"} <= clients and "10.0.0.1" not in clients


def test_a_forged_forwarded_for_buys_no_fresh_budget(ws):
    """From an address that is not a trusted proxy, X-Forwarded-For is the client's own claim."""
    app = _app(ws, trusted_proxies=["10.0.0.1"])
    statuses = []
    for n in range(8):
        with _client(app, "198.51.100.66", **{"x-forwarded-for": f"203.0.113.{n}"}) as attacker:
            statuses.append(login(attacker, "adam", password="guess-guess-guess").status_code)
    assert statuses[-1] == 429
    assert {e["client"] for e in audit_entries(ws) if e["action"].startswith("login")} == {"198.51.100.66"}


def test_forwarded_for_is_read_from_the_right():
    proxies = parse_proxies(["10.0.0.0/8"])
    # the client wrote the left part itself; the proxy appended the address it saw
    assert client_address("10.0.0.1", ["1.2.3.4, 203.0.113.7"], proxies) == "203.0.113.7"
    assert client_address("10.0.0.1", ["203.0.113.7, 10.0.0.2"], proxies) == "203.0.113.7"  # two proxies
    assert client_address("10.0.0.1", ["1.2.3.4", "203.0.113.7"], proxies) == "203.0.113.7"  # two headers
    assert client_address("10.0.0.1", ["not-an-address"], proxies) == "10.0.0.1"
    assert client_address("10.0.0.1", [], proxies) == "10.0.0.1"
    assert client_address("198.51.100.1", ["203.0.113.7"], proxies) == "198.51.100.1"  # not a proxy
    assert client_address("10.0.0.1", ["203.0.113.7"], ()) == "10.0.0.1"  # no trusted proxies at all


def _form_after_failure(client, name: str) -> str:
    page = client.get("/login")
    r = client.post("/login", data={"username": name, "password": "not-the-password",
                                    "login_token": login_token(page.text), "next": "/incidents"})
    assert r.status_code == 401
    return r.text


def test_the_form_answers_known_and_unknown_names_alike(client):
    known, unknown = _form_after_failure(client, "anna"), _form_after_failure(client, "annb")
    assert re.search(r'id="username" name="username" value="anna"', known)
    assert re.search(r'id="username" name="username" value="annb"', unknown)

    def neutral(html: str, name: str) -> str:
        return re.sub(r'value="[A-Za-z0-9_-]{20,}"', 'value="TOKEN"', html).replace(name, "NAME")

    assert neutral(known, "anna") == neutral(unknown, "annb")


def test_a_password_reset_ends_the_users_sessions(as_role, ws):
    client = as_role("anna")
    assert client.get("/incidents").status_code == 200
    r = subprocess.run([sys.executable, "-m", "custodes", "serve", "--workspace", str(ws.root), "--add-user", "anna",
                        "--role", "analyst", "--password-stdin", "--replace"], input="a-new-analyst-password\n",
                       capture_output=True, text=True, timeout=60, env={**os.environ, "CUSTODES_WORKSPACE": ""})
    assert r.returncode == 0, r.stderr
    page = client.get("/incidents")
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert "sessions end" in r.stderr
    assert login(client, "anna", password="a-new-analyst-password").status_code == 303


def test_the_same_password_set_again_still_ends_the_sessions(as_role, ws):
    """The stamp is the stored hash, salted anew each time: re-setting a leaked password still
    ends the sessions opened with it."""
    client = as_role("anna")
    UserStore.of(ws, log2_n=12).add("anna", "analyst", PASSWORDS["anna"], replace=True)
    assert client.get("/incidents").status_code == 303


@pytest.mark.parametrize("value", ["10.0.0.300", "proxy.example"])
def test_a_bad_trusted_proxy_is_a_usage_error(ws, value):
    from custodes.errors import UsageError

    with pytest.raises(UsageError, match=re.escape(value)):
        _app(ws, trusted_proxies=[value])
