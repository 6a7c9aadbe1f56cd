"""End to end: a real nginx, auth_request to `custodes guard serve` (a subprocess), a small
upstream app; 200 for an issued token, 401 for forged, revoked and missing ones; every decision
in the access-event files."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from custodes.guard import mint
from custodes.guard.nginx import nginx_conf

from .conftest import claims, free_port

pytestmark = [pytest.mark.nginx, pytest.mark.slow]


class Upstream(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"subject": self.headers.get("X-Custodes-Subject"),
                           "path": self.path,
                           "custodes": {k.lower(): v for k, v in self.headers.items()
                                        if k.lower().startswith("x-custodes-")}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def wait_for(url: str, timeout: float = 20) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


def cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "custodes", "guard", *args], capture_output=True,
                          text=True, timeout=60, **kw)


@pytest.fixture
def stack(tmp_path):
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if nginx is None:
        pytest.skip("nginx is not installed (scripts/setup.sh installs nginx-light)")
    key = mint.generate("ES256", "k-live")
    (tmp_path / "jwks.json").write_text(json.dumps(mint.jwks(key)))
    now = int(time.time())
    (tmp_path / "issuance.csv").write_text(
        "time,token_id,kid,subject,actor_type,iat,exp\n"
        f"{now},tok-1,k-live,cust-1,customer,{now - 5},{now + 600}\n"
        f"{now},tok-2,k-live,cust-2,customer,{now - 5},{now + 600}\n")
    ledger = f"sqlite:///{tmp_path}/ledger.db"
    r = cli("ledger", "load", str(tmp_path / "issuance.csv"), "--ledger", ledger)
    assert r.returncode == 0, r.stderr

    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    guard_port, nginx_port = free_port(), free_port()
    events = tmp_path / "events"
    guard = subprocess.Popen(
        [sys.executable, "-m", "custodes", "guard", "serve", "--keys", str(tmp_path / "jwks.json"),
         "--ledger", ledger, "--port", str(guard_port), "--events", str(events),
         "--cache-ttl", "0.2", "--workspace", str(tmp_path / "ws")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    (prefix / "nginx.conf").write_text(nginx_conf(
        prefix, f"127.0.0.1:{nginx_port}", f"127.0.0.1:{guard_port}",
        f"127.0.0.1:{upstream.server_address[1]}"))
    proc = subprocess.Popen([nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
                             "-g", "daemon off;"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(f"http://127.0.0.1:{guard_port}/healthz")
        wait_for(f"http://127.0.0.1:{nginx_port}/")
        yield {"url": f"http://127.0.0.1:{nginx_port}", "key": key, "now": now, "ledger": ledger,
               "events": events, "guard": guard, "prefix": prefix}
    finally:
        proc.send_signal(signal.SIGQUIT)
        proc.wait(timeout=10)
        if guard.poll() is None:
            guard.send_signal(signal.SIGINT)
            guard.wait(timeout=10)
        upstream.shutdown()


def test_nginx_auth_request_end_to_end(stack):
    key, now, url = stack["key"], stack["now"], stack["url"]

    def get(token=None, path="/api/v1/me/addresses"):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(url + path, headers=headers, timeout=5)

    def token(**kw):
        return key.sign(claims(iss=None, aud=None, iat=now - 5, exp=now + 600, **kw))

    ok = get(token(jti="tok-1", sub="cust-1"))
    assert ok.status_code == 200, (ok.status_code, (stack["prefix"] / "error.log").read_text())
    assert ok.json()["subject"] == "cust-1" and ok.json()["path"] == "/api/v1/me/addresses"
    # A client cannot smuggle its own X-Custodes-* headers past nginx: each one the app may
    # read is set from the guard's answer, and the refusal reason is dropped.
    smuggled = httpx.get(url + "/x", headers={"Authorization": f"Bearer {token(jti='tok-2', sub='cust-2')}",
                                              "X-Custodes-Subject": "admin",
                                              "X-Custodes-Token-Id": "tok-admin",
                                              "X-Custodes-Kid": "k-admin",
                                              "X-Custodes-Reason": "ok"}, timeout=5)
    assert smuggled.json()["custodes"] == {"x-custodes-subject": "cust-2",
                                           "x-custodes-token-id": "tok-2",
                                           "x-custodes-kid": "k-live"}
    # Signed with the real key, never issued: the breach's forged token.
    assert get(token(jti="forged-1", sub="cust-77")).status_code == 401
    assert get(token(jti="tok-1", sub="cust-2")).status_code == 401  # claims differ from issuance
    assert get("not.a.token").status_code == 401
    assert get().status_code == 401

    r = cli("revoke", "--sub", "cust-1", "--ledger", stack["ledger"])
    assert r.returncode == 0, r.stderr
    time.sleep(0.5)  # past the server's 0.2 s cache TTL: another process revoked
    assert get(token(jti="tok-1", sub="cust-1")).status_code == 401

    stack["guard"].send_signal(signal.SIGINT)  # a clean stop finishes the event file
    stack["guard"].wait(timeout=10)
    rows = [json.loads(line) for path in sorted(stack["events"].glob("access-*.jsonl"))
            for line in path.read_text().splitlines()]
    assert rows[0]["guard_reason"] == "missing_token"  # the fixture's wait for nginx to come up
    rows = rows[1:]
    assert [(r["status"], r["guard_reason"]) for r in rows] == [
        (200, "ok"), (200, "ok"), (401, "not_issued"), (401, "sub_mismatch"), (401, "bad_base64"),
        (401, "missing_token"), (401, "revoked_sub")]
    assert all(r["src_ip"] == "127.0.0.1" and r["method"] == "GET" for r in rows)
    assert rows[0]["route"] == "/api/v1/me/addresses" and rows[0]["actor_id"] == "cust-1"
    assert rows[2]["credential_id"] == "forged-1" and rows[2]["token_kid"] == "k-live"
    assert all(r["request_id"] for r in rows)  # nginx's $request_id, for joining logs
