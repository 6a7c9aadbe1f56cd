"""The guard's smaller holes, each tried as an insider would: a cache that never expires, a
mistyped ledger path that becomes a new empty ledger, directories and files another local user pre-created, a flood of requests without a
token, the route hidden behind a forward-auth proxy, and bad options that gave tracebacks."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import time

import pytest

from custodes.errors import CustodesError
from custodes.guard import mint
from custodes.guard.events import AccessLog
from custodes.guard.ledger import open_ledger
from custodes.guard.server import AuthServer

from .conftest import claims, free_port

OTHER_UID = 54321  # a local user who is not us


def cli(*args, timeout=60, **kw):
    return subprocess.run([sys.executable, "-m", "custodes", "guard", *args], capture_output=True,
                          text=True, timeout=timeout, **kw)


def live_claims(**kw):
    now = int(time.time())
    return claims(iss=None, aud=None, iat=now - 5, exp=now + 300, **kw)


@pytest.fixture(scope="module")
def keys_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("keys") / "jwks.json"
    path.write_text(json.dumps(mint.jwks(mint.generate("ES256", "k-h"))))
    return str(path)


@pytest.mark.parametrize("ttl", ["inf", "nan", "-1", "61", "1e9"])
def test_serve_refuses_a_cache_ttl_outside_0_to_60(keys_file, tmp_path, ttl):
    open_ledger(f"sqlite:///{tmp_path}/l.db").close()
    try:
        r = cli("serve", "--keys", keys_file, "--ledger", f"sqlite:///{tmp_path}/l.db",
                "--cache-ttl", ttl, "--port", str(free_port()), "--workspace", str(tmp_path / "ws"),
                timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail(f"--cache-ttl {ttl} was accepted and the server started")
    assert r.returncode == 2 and "--cache-ttl" in r.stderr and "Traceback" not in r.stderr


# A SQLite ledger is created by `ledger load` or `--create` only ------------------------------

def test_revoke_never_creates_a_missing_ledger(tmp_path):
    mistyped = tmp_path / "ledgr.db"
    r = cli("revoke", "--sub", "cust-1", "--ledger", f"sqlite:///{mistyped}")
    assert r.returncode == 1 and "no ledger there" in r.stderr and "Traceback" not in r.stderr
    assert not mistyped.exists() and r.stdout == ""
    r = cli("revoke", "--sub", "cust-1", "--ledger", f"sqlite:///{mistyped}", "--create")
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(os.stat(mistyped).st_mode) == 0o600
    led = open_ledger(f"sqlite:///{mistyped}", create=False)
    assert led.is_revoked(sub="cust-1")
    led.close()


def test_verify_and_serve_never_create_a_missing_ledger(keys_file, tmp_path):
    mistyped = tmp_path / "nope" / "ledger.db"
    r = cli("verify", "--keys", keys_file, "--ledger", f"sqlite:///{mistyped}", "x.y.z")
    assert r.returncode == 1 and "no ledger there" in r.stderr
    r = cli("serve", "--keys", keys_file, "--ledger", f"sqlite:///{mistyped}",
            "--workspace", str(tmp_path / "ws"), timeout=20)
    assert r.returncode == 1 and "no ledger there" in r.stderr and "Traceback" not in r.stderr
    assert not mistyped.exists() and not mistyped.parent.exists()


# Private directories and files: tightened, or refused when another user owns them ------------

def test_a_pre_created_events_directory_is_tightened(tmp_path):
    events = tmp_path / "events"
    events.mkdir(mode=0o755)
    os.chmod(events, 0o755)
    AccessLog(events).close()
    assert stat.S_IMODE(os.stat(events).st_mode) == 0o700


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")


@needs_root
def test_an_events_directory_of_another_user_is_refused(keys_file, tmp_path):
    """/tmp/guard-events made by another local user: they would read every event."""
    events = tmp_path / "events"
    events.mkdir()
    os.chown(events, OTHER_UID, OTHER_UID)
    with pytest.raises(CustodesError, match="belongs to uid"):
        AccessLog(events)
    open_ledger(f"sqlite:///{tmp_path}/l.db").close()
    r = cli("serve", "--keys", keys_file, "--ledger", f"sqlite:///{tmp_path}/l.db", "--events",
            str(events), "--workspace", str(tmp_path / "ws"), timeout=20)
    assert r.returncode == 1 and "belongs to uid" in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1


@needs_root
def test_a_ledger_file_of_another_user_is_refused(tmp_path):
    """Whoever can write the ledger can add tokens to it: never use one another user made."""
    path = tmp_path / "ledger.db"
    open_ledger(f"sqlite:///{path}").close()
    os.chown(path, OTHER_UID, OTHER_UID)
    with pytest.raises(CustodesError, match="belongs to uid"):
        open_ledger(f"sqlite:///{path}")
    os.chown(path, 0, 0)
    os.chmod(path, 0o644)
    open_ledger(f"sqlite:///{path}").close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


@needs_root
def test_a_planted_journal_next_to_the_ledger_is_refused(tmp_path):
    """A -wal file another user left next to the ledger would be replayed into it."""
    path = tmp_path / "ledger.db"
    open_ledger(f"sqlite:///{path}").close()
    wal = tmp_path / "ledger.db-wal"
    wal.write_bytes(b"")
    os.chown(wal, OTHER_UID, OTHER_UID)
    with pytest.raises(CustodesError, match="belongs to uid"):
        open_ledger(f"sqlite:///{path}")


@pytest.mark.parametrize("args,code,says", [
    (["--port", "99999"], 2, "--port"),
    (["--port", "0"], 2, "--port"),
    (["--events", "/proc/x"], 1, "/proc/x"),
    (["--events", "/etc/hostname"], 2, "is a file"),
])
def test_bad_serve_options_are_one_line_not_a_traceback(keys_file, tmp_path, args, code, says):
    open_ledger(f"sqlite:///{tmp_path}/l.db").close()
    r = cli("serve", "--keys", keys_file, "--ledger", f"sqlite:///{tmp_path}/l.db", *args,
            "--workspace", str(tmp_path / "ws"), timeout=20)
    assert r.returncode == code, r.stderr
    assert "Traceback" not in r.stderr and says in r.stderr


# A flood without a token: bounded on disk, and counted ---------------------------------------

async def _call(app, headers: list[tuple[bytes, bytes]]) -> int:
    scope = {"type": "http", "method": "GET", "path": "/auth", "headers": headers,
             "client": ("127.0.0.1", 40000)}
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"]


def test_a_flood_without_tokens_is_bounded_on_disk_and_counted(verifier, signing_keys, tmp_path):
    """40,000 requests without a usable token (none, junk) in a second or two: at most the
    budget's rows each second, every request counted in them; forged tokens (a valid
    signature) among them are each logged, never sampled."""
    log = AccessLog(tmp_path / "events", anonymous_per_second=50)
    app = AuthServer(verifier(issuer=None, audience=None, ledger=open_ledger("memory:")), log)
    forged = signing_keys["ES256"].sign(live_claims(jti="forged"))
    kinds = [[], [(b"authorization", b"Bearer junk")], [(b"authorization", b"Bearer a.b.c")]]

    async def flood():
        statuses = []
        for i in range(40_000):
            headers = kinds[i % 3] + [(b"x-real-ip", f"198.51.100.{i % 200}".encode()),
                                      (b"x-original-uri", b"/api/v1/me/addresses"),
                                      (b"user-agent", b"flood/" + b"x" * 5000)]
            if i % 1000 == 0:
                headers = [(b"authorization", f"Bearer {forged}".encode())] + headers[-3:]
            statuses.append(await _call(app, headers))
        return statuses

    started = time.time()
    statuses = asyncio.run(flood())
    seconds = int(time.time()) - int(started) + 1  # distinct wall-clock seconds the flood spanned
    log.close()
    assert set(statuses) == {401}
    files = list((tmp_path / "events").glob("access-*.jsonl"))
    rows = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    written = sum(f.stat().st_size for f in files)
    forged_rows = [r for r in rows if r["guard_reason"] == "not_issued"]
    anonymous = [r for r in rows if r["guard_reason"] != "not_issued"]
    assert len(forged_rows) == 40  # every forged token: its own row
    # Each second: at most 50 rows, plus one summary per reason (3 reasons).
    assert len(anonymous) <= seconds * (50 + 3), (len(anonymous), seconds)
    assert written <= (len(rows)) * 1200  # rows are bounded too: the 5 KB user agent is cut
    # Every anonymous request is accounted for: its own row, or counted in a summary.
    assert len(anonymous) + sum(r.get("guard_dropped", 0) for r in anonymous) == 40_000 - 40
    summaries = [r for r in anonymous if "guard_dropped" in r]
    assert summaries and all(r["guard_dropped_sources"] <= 200 for r in summaries)
    assert {r["guard_reason"] for r in summaries} == {"missing_token", "malformed", "bad_base64"}


# The route behind Traefik and Caddy forward auth ----------------------------------------------

def test_forward_auth_routes_are_read_from_x_forwarded_uri(verifier, tmp_path):
    from starlette.testclient import TestClient

    log = AccessLog(tmp_path / "events")
    client = TestClient(AuthServer(verifier(ledger=open_ledger("memory:")), log))
    client.get("/auth", headers={"X-Forwarded-Uri": "/api/v1/me/orders?page=2",
                                 "X-Forwarded-Method": "POST", "X-Forwarded-For": "192.0.2.9"})
    log.roll()
    [row] = [json.loads(line) for f in log.finished_files() for line in f.read_text().splitlines()]
    assert (row["route"], row["method"], row["src_ip"]) == ("/api/v1/me/orders", "POST", "192.0.2.9")


def test_with_route_header_a_clients_other_header_is_not_read(verifier, tmp_path):
    """Behind Traefik, a client's own X-Original-URI reaches the guard: with
    --route-header x-forwarded-uri it cannot rename the route it read."""
    from starlette.testclient import TestClient

    log = AccessLog(tmp_path / "events")
    app = AuthServer(verifier(ledger=open_ledger("memory:")), log, route_header="x-forwarded-uri")
    TestClient(app).get("/auth", headers={"X-Original-URI": "/static/logo.png",
                                          "X-Forwarded-Uri": "/api/v1/me/addresses"})
    log.roll()
    [row] = [json.loads(line) for f in log.finished_files() for line in f.read_text().splitlines()]
    assert row["route"] == "/api/v1/me/addresses"
