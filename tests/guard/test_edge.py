"""At the edge: the ASGI middleware and the /auth server, and the access events they write."""

from __future__ import annotations

import json
import os
import stat

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from custodes.contract import DATASETS
from custodes.guard import VerdictCache
from custodes.guard.asgi import GuardMiddleware, bearer_token
from custodes.guard.events import AccessLog
from custodes.guard.ledger import open_ledger
from custodes.guard.server import AuthServer

from .conftest import LIFETIME, NOW, claims


def now_claims(**kw):
    """The lifetime every test here records in its ledger (the ledger compares it exactly)."""
    return claims(iat=int(NOW) - 5, exp=int(NOW) + LIFETIME, **kw)


def record(led, jti="tok-1", sub="cust-1"):
    led.record(jti, sub, "k-ES256", exp=NOW + LIFETIME, iat=NOW - 5)


@pytest.fixture
def ledger():
    led = open_ledger("memory:")
    record(led)
    return led


def read_events(log: AccessLog) -> list[dict]:
    log.roll()
    return [json.loads(line) for path in log.finished_files() for line in path.read_text().splitlines()]


def test_bearer_token_parsing():
    assert bearer_token(b"Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    assert bearer_token(b"Basic abc") is None
    assert bearer_token(b"Bearer ") is None
    assert bearer_token(None) is None


def me(request):
    verdict = request.state.guard
    return JSONResponse({"sub": verdict.sub, "jti": verdict.jti})


def test_middleware_lets_issued_tokens_through_and_logs_every_decision(verifier, signing_keys,
                                                                      ledger, tmp_path):
    log = AccessLog(tmp_path / "events")
    app = Starlette(routes=[Route("/api/v1/me", me)])
    app.add_middleware(GuardMiddleware, verifier=verifier(ledger=ledger), access_log=log)
    client = TestClient(app)
    key = signing_keys["ES256"]

    good = client.get("/api/v1/me", headers={"Authorization": "Bearer " + key.sign(now_claims()),
                                             "User-Agent": "app/1", "X-Request-ID": "r-1"})
    assert good.status_code == 200 and good.json() == {"sub": "cust-1", "jti": "tok-1"}
    forged = client.get("/api/v1/me", headers={
        "Authorization": "Bearer " + key.sign(now_claims(jti="forged", sub="cust-9"))})
    assert forged.status_code == 401
    assert forged.headers["www-authenticate"].startswith("Bearer")
    assert "not_issued" not in forged.text  # the reason is logged, not told
    assert client.get("/api/v1/me").status_code == 401

    events = read_events(log)
    assert [e["status"] for e in events] == [200, 401, 401]
    assert [e["guard_reason"] for e in events] == ["ok", "not_issued", "missing_token"]
    ok, forged_event, anonymous = events
    assert ok["actor_id"] == "cust-1" and ok["credential_id"] == "tok-1"
    assert ok["token_kid"] == "k-ES256" and ok["session_id"] == "s-1"
    assert ok["user_agent"] == "app/1" and ok["request_id"] == "r-1"
    assert ok["route"] == "/api/v1/me" and ok["method"] == "GET" and ok["bytes_out"] > 0
    # the forged token's claims are logged: they are what a detection needs to find the key
    assert forged_event["credential_id"] == "forged" and forged_event["actor_id"] == "cust-9"
    assert anonymous["actor_type"] == "anonymous" and anonymous["credential_type"] == "none"


def test_access_events_fit_the_contract_and_files_are_private(verifier, signing_keys, ledger,
                                                              tmp_path):
    """The files are what `custodes ingest access` reads: contract columns, required ones set."""
    import pyarrow.json as pjson

    log = AccessLog(tmp_path / "events")
    client = TestClient(AuthServer(verifier(ledger=ledger), log))
    token = signing_keys["ES256"].sign(now_claims())
    for auth in ("Bearer " + token, "Bearer junk", None):
        client.get("/auth", headers={"X-Original-URI": "/api/v1/me/addresses?page=2",
                                     "X-Original-Method": "POST", "X-Real-IP": "203.0.113.7",
                                     **({"Authorization": auth} if auth else {})})
    log.roll()
    [path] = log.finished_files()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    table = pjson.read_json(path)
    contract = {c.name: c for c in DATASETS["access"]}
    for name, column in contract.items():
        assert name in table.column_names
        if column.required:
            assert table.column(name).null_count == 0, name
    rows = table.to_pylist()
    assert [r["status"] for r in rows] == [200, 401, 401]
    assert {r["route"] for r in rows} == {"/api/v1/me/addresses"}
    assert {r["method"] for r in rows} == {"POST"} and {r["src_ip"] for r in rows} == {"203.0.113.7"}
    assert not list(path.parent.glob("*.part")) and not list(path.parent.glob(".*"))


def test_auth_server_answers_200_with_subject_or_401(verifier, signing_keys, ledger):
    client = TestClient(AuthServer(verifier(ledger=ledger, cache=VerdictCache())))
    token = signing_keys["ES256"].sign(now_claims())
    r = client.get("/auth", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.headers["x-custodes-subject"] == "cust-1"
    assert r.headers["x-custodes-token-id"] == "tok-1"
    r = client.get("/auth", headers={"Authorization": "Bearer " + signing_keys["ES256"].sign(
        now_claims(jti="tok-x"))})
    assert r.status_code == 401 and r.headers["x-custodes-reason"] == "not_issued"
    assert client.get("/healthz").status_code == 200
    assert client.get("/other").status_code == 404


def test_auth_server_fails_closed_when_redis_is_down(verifier, signing_keys):
    from .conftest import free_port

    led = open_ledger(f"redis://127.0.0.1:{free_port()}/0")
    client = TestClient(AuthServer(verifier(ledger=led)))
    r = client.get("/auth", headers={"Authorization": "Bearer " + signing_keys["ES256"].sign(
        now_claims())})
    assert r.status_code == 401 and r.headers["x-custodes-reason"] == "ledger_unavailable"
    assert client.get("/healthz").status_code == 503


def test_access_log_rolls_by_size(tmp_path):
    from custodes.guard.policy import Verdict

    log = AccessLog(tmp_path, max_bytes=500)
    for i in range(40):
        log.write({"time": "2025-01-01T00:00:00Z", "i": i, "v": Verdict(False, "x").reason})
    log.close()
    files = log.finished_files()
    assert len(files) > 1
    lines = [json.loads(x)["i"] for f in files for x in f.read_text().splitlines()]
    assert sorted(lines) == list(range(40))


def test_guard_events_ingest_into_the_lake(verifier, signing_keys, ledger, tmp_path):
    """The promise between the guard and the lake: `custodes ingest access` loads the files."""
    import subprocess
    import sys

    from custodes.cli import COMMANDS

    if "ingest" not in COMMANDS:
        pytest.skip("the lake's ingest command is not in this checkout")
    log = AccessLog(tmp_path / "events")
    client = TestClient(AuthServer(verifier(ledger=ledger), log))
    for auth in ("Bearer " + signing_keys["ES256"].sign(now_claims()), "Bearer x.y.z", None):
        client.get("/auth", headers={"X-Original-URI": "/api/v1/me", "X-Real-IP": "198.51.100.4",
                                     **({"Authorization": auth} if auth else {})})
    log.close()
    run = [sys.executable, "-m", "custodes", "--workspace", str(tmp_path / "ws")]
    r = subprocess.run(run + ["ingest", "access", str(tmp_path / "events")], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    status = subprocess.run(run + ["status", "--format", "json"], capture_output=True, text=True,
                            timeout=120)
    access = json.loads(status.stdout)["datasets"]["access"]
    assert access["rows"] == 3 and access["quarantined"] == 0


def test_auth_server_on_a_redis_ledger(verifier, signing_keys, fresh_redis_url):
    led = open_ledger(fresh_redis_url)
    record(led)
    client = TestClient(AuthServer(verifier(ledger=led, cache=VerdictCache())))
    key = signing_keys["ES256"]
    for _ in range(2):  # the second answer comes from the cache
        r = client.get("/auth", headers={"Authorization": "Bearer " + key.sign(now_claims())})
        assert r.status_code == 200 and r.headers["x-custodes-subject"] == "cust-1"
    r = client.get("/auth", headers={"Authorization": "Bearer " + key.sign(now_claims(jti="x"))})
    assert r.status_code == 401 and r.headers["x-custodes-reason"] == "not_issued"
    led.revoke(jti="tok-1")
    r = client.get("/auth", headers={"Authorization": "Bearer " + key.sign(now_claims())})
    assert r.status_code == 401 and r.headers["x-custodes-reason"] == "revoked_jti"
    led.close()


def test_verify_async_agrees_with_verify(verifier, signing_keys, fresh_redis_url):
    import asyncio

    led = open_ledger(fresh_redis_url)
    record(led)
    record(led, "tok-2", "cust-2")
    led.revoke(jti="tok-2")
    v = verifier(ledger=led)
    key = signing_keys["ES256"]
    tokens = [key.sign(now_claims()), key.sign(now_claims(jti="tok-2", sub="cust-2")),
              key.sign(now_claims(jti="tok-3")), key.sign(now_claims(sub="cust-9")),
              key.sign(now_claims(jti=None)), "junk", None, key.sign(now_claims(iss="x"))]

    async def all_async():
        return [(await v.verify_async(t)).reason for t in tokens]

    expected = [v.verify(t).reason for t in tokens]
    assert expected == ["ok", "revoked_jti", "not_issued", "sub_mismatch", "missing_jti",
                        "malformed", "missing_token", "bad_issuer"]
    assert asyncio.run(all_async()) == expected
    assert asyncio.run(all_async()) == expected  # a second event loop works too
    led.close()


def test_envoy_ext_authz_style_requests(verifier, signing_keys, ledger, tmp_path):
    """Envoy's HTTP ext_authz sends the client's method and path under the path prefix."""
    log = AccessLog(tmp_path / "events")
    client = TestClient(AuthServer(verifier(ledger=ledger), log))
    token = signing_keys["ES256"].sign(now_claims())
    r = client.post("/auth/api/v1/me/orders?x=1", headers={"Authorization": f"Bearer {token}",
                                                           "X-Forwarded-For": "192.0.2.5, 10.0.0.1"})
    assert r.status_code == 200 and r.headers["x-custodes-subject"] == "cust-1"
    assert client.delete("/auth/api/v1/me").status_code == 401
    [ok, refused] = read_events(log)
    assert (ok["method"], ok["route"], ok["src_ip"]) == ("POST", "/api/v1/me/orders", "192.0.2.5")
    assert (refused["method"], refused["route"], refused["status"]) == ("DELETE", "/api/v1/me", 401)


def test_access_log_directories_are_private_all_the_way_down(tmp_path):
    log = AccessLog(tmp_path / "ws" / "guard" / "access")
    log.close()
    for path in (tmp_path / "ws", tmp_path / "ws" / "guard", tmp_path / "ws" / "guard" / "access"):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700, path


def test_middleware_guards_websocket_handshakes(verifier, signing_keys, ledger, tmp_path):
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocketDisconnect

    async def echo(ws):
        await ws.accept()
        await ws.send_text(ws.state.guard.sub)
        await ws.close()

    log = AccessLog(tmp_path / "events")
    app = Starlette(routes=[WebSocketRoute("/ws", echo)])
    app.add_middleware(GuardMiddleware, verifier=verifier(ledger=ledger), access_log=log)
    client = TestClient(app)
    token = signing_keys["ES256"].sign(now_claims())
    with client.websocket_connect("/ws", headers={"Authorization": f"Bearer {token}"}) as ws:
        assert ws.receive_text() == "cust-1"
    with pytest.raises(WebSocketDisconnect):
        with client.websocket_connect("/ws") as ws:
            ws.receive_text()
    assert [(e["status"], e["guard_reason"]) for e in read_events(log)] == [
        (101, "ok"), (403, "missing_token")]
