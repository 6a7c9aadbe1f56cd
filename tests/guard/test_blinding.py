"""A token cannot blind the log: every decision writes exactly one access event, whatever a
correctly signed token's claims hold (JSON of every type in every claim), in `guard serve` and in
the ASGI middleware, and the connection carries on."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from custodes.guard import Verifier, b64, load_jwks, mint
from custodes.guard.asgi import GuardMiddleware
from custodes.guard.events import AccessLog
from custodes.guard.ledger import open_ledger
from custodes.guard.server import AuthServer

# Made once at import: hypothesis runs each test body many times.
_KEY = mint.generate("HS256", "k-HS256")
_NOW = int(time.time())
_ISSUED = {"sub": "cust-1", "jti": "tok-1", "iat": _NOW - 5, "exp": _NOW + 3600}
_LEDGER = open_ledger("memory:")
_LEDGER.record("tok-1", "cust-1", "k-HS256", exp=_ISSUED["exp"], iat=_ISSUED["iat"])
_VERIFIER = Verifier(load_jwks(mint.jwks(_KEY)), ledger=_LEDGER)

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=6), children, max_size=3), max_leaves=8)
_CLAIMS = st.dictionaries(
    st.sampled_from(["actor_type", "sub", "jti", "sid", "iat", "exp", "nbf", "kid", "iss", "aud",
                     "typ", "x"]), _json, max_size=4)


def signed(claims: dict) -> str:
    """Signed with the real key: what a key holder can send."""
    signing_input = (b64.encode(json.dumps({"alg": "HS256", "kid": "k-HS256"}).encode()) + "."
                     + b64.encode(json.dumps(claims).encode()))
    return signing_input + "." + b64.encode(mint.sign_bytes(_KEY.private, "HS256",
                                                            signing_input.encode()))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """One /auth server and one guarded app, each with its own events directory."""
    auth_log = AccessLog(tmp_path_factory.mktemp("auth-events"))
    app_log = AccessLog(tmp_path_factory.mktemp("app-events"))
    app = Starlette(routes=[Route("/api/v1/me", lambda request: PlainTextResponse("me"))])
    app.add_middleware(GuardMiddleware, verifier=_VERIFIER, access_log=app_log)
    yield {"auth": (TestClient(AuthServer(_VERIFIER, auth_log)), auth_log),
           "app": (TestClient(app), app_log)}
    auth_log.close()
    app_log.close()


def one_event_each(stack, token: str) -> list[dict]:
    """Send the token to both; each must answer and write exactly one event."""
    events = []
    for name, path in (("auth", "/auth"), ("app", "/api/v1/me")):
        client, log = stack[name]
        response = client.get(path, headers={"Authorization": f"Bearer {token}",
                                             "X-Original-URI": "/api/v1/me/addresses"})
        assert response.status_code in (200, 401)
        finished = log.roll()
        assert finished is not None, f"{name}: no event for a {response.status_code}"
        lines = finished.read_bytes().splitlines()
        assert len(lines) == 1, f"{name}: {len(lines)} events for one request"
        event = json.loads(lines[0])
        assert event["status"] == response.status_code
        events.append(event)
    return events


@pytest.mark.parametrize("actor_type", [[], {}, ["customer"], {"a": 1}, 1, 1.5, True, None,
                                        "customer", "admin"])
def test_actor_type_of_any_json_type_is_logged_not_fatal(stack, actor_type):
    """The issue's case: `"actor_type": []` raised TypeError after the answer, so no event."""
    for event in one_event_each(stack, signed({**_ISSUED, "actor_type": actor_type})):
        assert event["guard_reason"] == "ok" and event["actor_id"] == "cust-1"
        assert event["actor_type"] == "customer"  # the claim's when valid, else --actor-type


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(overrides=_CLAIMS, keep=st.booleans())
def test_any_claims_correctly_signed_give_exactly_one_event(stack, overrides, keep):
    """Arbitrary JSON in any claim, on top of the issued claims or alone."""
    claims = {**_ISSUED, **overrides} if keep else overrides
    for event in one_event_each(stack, signed(claims)):
        assert event["guard_reason"]  # a reason code, whatever happened


def test_a_failure_to_build_the_event_still_writes_one(stack, monkeypatch):
    """Whatever bug a claim might still hit, a fallback event stands in for the decision."""
    import custodes.guard.events as events

    def broken(*_args, **_kwargs):
        raise RuntimeError("cannot build")

    monkeypatch.setattr(events, "access_event", broken)
    for event in one_event_each(stack, signed(_ISSUED)):
        assert event["guard_event_error"] == "RuntimeError"
        assert event["guard_reason"] == "ok" and event["actor_type"] == "anonymous"
        assert event["src_ip"] and event["method"] == "GET" and event["route"].startswith("/api")


def test_the_connection_carries_on_after_any_claims(tmp_path):
    """A real `guard serve` on one keep-alive connection: a token with list and object claims,
    then an ordinary one; both answered on the same connection, both logged."""
    import subprocess
    import sys

    import httpx

    from .conftest import free_port

    (tmp_path / "jwks.json").write_text(json.dumps(mint.jwks(_KEY)))
    ledger = open_ledger(f"sqlite:///{tmp_path}/ledger.db")
    ledger.record("tok-1", "cust-1", "k-HS256", exp=_ISSUED["exp"], iat=_ISSUED["iat"])
    ledger.close()
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "custodes", "guard", "serve", "--keys", str(tmp_path / "jwks.json"),
         "--ledger", f"sqlite:///{tmp_path}/ledger.db", "--port", str(port), "--events",
         str(tmp_path / "events"), "--workspace", str(tmp_path / "ws")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            deadline = time.time() + 30
            while True:
                try:
                    client.get("/healthz")
                    break
                except httpx.HTTPError:
                    assert time.time() < deadline, "guard serve did not start"
                    time.sleep(0.2)
            codes, peers = [], set()
            for claims in ({**_ISSUED, "actor_type": []}, {**_ISSUED, "actor_type": {}, "sid": []},
                           _ISSUED):
                r = client.get("/auth", headers={"Authorization": f"Bearer {signed(claims)}"})
                codes.append(r.status_code)
                peers.add(r.extensions["network_stream"].get_extra_info("client_addr"))
        assert codes == [200, 401, 200]  # sid must be a string: bad_payload
        assert len(peers) == 1  # one connection all along: never reset
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert "Traceback" not in err, err
    rows = [json.loads(line) for f in (tmp_path / "events").glob("access-*.jsonl")
            for line in f.read_text().splitlines()]
    assert [r["guard_reason"] for r in rows if r["credential_type"] != "none"] == [
        "ok", "bad_payload", "ok"]
