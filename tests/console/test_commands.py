"""`custodes serve` on the command line: user management, refusing to start without users,
audit verification, and a real server process on a loopback port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from custodes.workspace import Workspace


@pytest.fixture(autouse=True)
def existing_workspace(tmp_path):
    """`custodes serve` needs a workspace that exists (only ingest, demo, watch and guard serve
    create one): every test here starts from an empty one."""
    return Workspace.open(tmp_path / "ws")


def run(*args, stdin: str | None = None, timeout=60):
    return subprocess.run([sys.executable, "-m", "custodes", *args], input=stdin, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "CUSTODES_WORKSPACE": ""})


def test_refuses_to_start_without_users_and_says_how_to_add_one(tmp_path):
    r = run("serve", "--workspace", str(tmp_path / "ws"))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "no users" in r.stderr and "--add-user NAME --role admin" in r.stderr


def test_add_user_from_stdin_then_list(tmp_path):
    ws = str(tmp_path / "ws")
    r = run("serve", "--workspace", ws, "--add-user", "Alice", "--role", "admin", "--password-stdin",
            stdin="a-long-admin-password\n")
    assert r.returncode == 0, r.stderr
    assert "a-long-admin-password" not in r.stdout + r.stderr
    r = run("serve", "--workspace", ws, "--list-users", "--format", "json")
    assert r.returncode == 0 and json.loads(r.stdout) == [{"name": "alice", "role": "admin"}]
    r = run("serve", "--workspace", ws, "--add-user", "alice", "--role", "viewer", "--password-stdin",
            stdin="another-long-password\n")
    assert r.returncode == 1 and "--replace" in r.stderr


def test_bad_user_input_is_a_clear_error(tmp_path):
    ws = str(tmp_path / "ws")
    r = run("serve", "--workspace", ws, "--add-user", "bob", "--role", "admin", "--password-stdin", stdin="short\n")
    assert r.returncode == 1 and "at least 12 characters" in r.stderr and "Traceback" not in r.stderr
    r = run("serve", "--workspace", ws, "--add-user", "bob", "--password-stdin", stdin="long-enough-password\n")
    assert r.returncode == 2 and "--role" in r.stderr
    r = run("serve", "--workspace", ws, "--add-user", "bob", "--role", "root")
    assert r.returncode == 2
    r = run("serve", "--workspace", ws, "--password", "hunter2hunter2")  # never on argv
    assert r.returncode == 2


def test_verify_audit_exits_1_on_a_broken_chain(tmp_path):
    from custodes.console.audit import AuditTrail
    from custodes.console.users import console_dir
    from custodes.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws")
    trail = AuditTrail(console_dir(ws) / "audit.jsonl")
    for i in range(3):
        trail.record(user="anna", role="analyst", action="view.incident", target=f"i-{i}")
    r = run("serve", "--workspace", str(ws.root), "--verify-audit", "--format", "json")
    assert r.returncode == 0 and json.loads(r.stdout)["entries"] == 3
    trail.path.write_text(trail.path.read_text().replace("i-1", "i-9"))
    r = run("serve", "--workspace", str(ws.root), "--verify-audit")
    assert r.returncode == 1 and "BROKEN at line 2" in r.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_runs_on_loopback_with_security_headers(tmp_path):
    ws = str(tmp_path / "ws")
    assert run("serve", "--workspace", ws, "--add-user", "adam", "--role", "admin", "--password-stdin",
               stdin="admin-pass-12345\n").returncode == 0
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "custodes", "serve", "--workspace", ws, "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"{base}/login", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() is not None else "timeout"
                time.sleep(0.2)
        assert r.status_code == 200 and r.headers["x-frame-options"] == "DENY"
        assert "server" not in r.headers  # no version banner
        assert httpx.get(f"{base}/incidents", timeout=5).status_code == 303
        # a Host that is not loopback is refused (DNS rebinding)
        assert httpx.get(f"{base}/login", headers={"host": "evil.example"}, timeout=5).status_code == 400
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.stdout.read() == ""  # nothing on stdout


def _with_user(tmp_path) -> str:
    ws = str(tmp_path / "ws")
    assert run("serve", "--workspace", ws, "--add-user", "adam", "--role", "admin", "--password-stdin",
               stdin="admin-pass-12345\n").returncode == 0
    return ws


def one_line_error(r) -> bool:
    return r.returncode == 1 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_a_junk_certificate_is_one_line(tmp_path):
    ws = _with_user(tmp_path)
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN CERTIFICATE-----\nnot a certificate\n")
    r = run("serve", "--workspace", ws, "--port", str(_free_port()), "--tls-cert", str(junk), "--tls-key", str(junk))
    assert one_line_error(r) and "not a usable PEM certificate" in r.stderr, r.stderr


def test_a_busy_port_is_one_line_and_exit_1(tmp_path):
    ws = _with_user(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        r = run("serve", "--workspace", ws, "--port", str(busy.getsockname()[1]))
    assert one_line_error(r) and "Address already in use" in r.stderr, r.stderr


def test_the_console_directory_is_tightened_or_refused(tmp_path):
    import stat

    ws = tmp_path / "ws"
    (ws / "console").mkdir(parents=True)
    os.chmod(ws / "console", 0o755)
    _with_user(tmp_path)
    assert stat.S_IMODE((ws / "console").stat().st_mode) == 0o700
    if os.geteuid() != 0:
        return
    other = tmp_path / "other"
    (other / "console").mkdir(parents=True)
    os.chown(other / "console", 65534, 65534)  # pre-created by another local user
    r = run("serve", "--workspace", str(other), "--add-user", "adam", "--role", "admin", "--password-stdin",
            stdin="admin-pass-12345\n")
    assert one_line_error(r) and "belongs to uid 65534" in r.stderr
    assert not (other / "console" / "users.json").exists()


def test_restart_audit_on_the_command_line(tmp_path):
    from custodes.console.audit import AuditTrail
    from custodes.console.users import console_dir
    from custodes.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws")
    trail = AuditTrail(console_dir(ws) / "audit.jsonl")
    for i in range(3):
        trail.record(user="anna", role="analyst", action="view.incident", target=f"i-{i}")
    r = run("serve", "--workspace", str(ws.root), "--restart-audit")
    assert r.returncode == 1 and "intact" in r.stderr
    trail.path.write_text(trail.path.read_text().splitlines(keepends=True)[0])
    r = run("serve", "--workspace", str(ws.root), "--verify-audit")
    assert r.returncode == 1 and "truncated" in r.stdout
    r = run("serve", "--workspace", str(ws.root), "--restart-audit", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["action"] == "audit.restarted"
    assert run("serve", "--workspace", str(ws.root), "--verify-audit").returncode == 0


def test_several_workers_need_redis(tmp_path):
    ws = _with_user(tmp_path)
    r = run("serve", "--workspace", ws, "--workers", "2", "--port", str(_free_port()))
    assert r.returncode == 2 and "console.redis" in r.stderr


def _sign_in(base: str) -> dict:
    import re

    page = httpx.get(f"{base}/login", timeout=5)
    token = re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)
    r = httpx.post(f"{base}/login", cookies=page.cookies, timeout=30,
                   data={"username": "adam", "password": "admin-pass-12345", "login_token": token, "next": "/incidents"})
    assert r.status_code == 303, r.text
    return {"custodes_session": r.cookies["custodes_session"]}


def test_two_workers_share_sessions_through_redis(tmp_path, redis_url):
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    ws = _with_user(tmp_path)
    (tmp_path / "ws" / "custodes.yaml").write_text(f"console:\n  redis: {redis_url}\n")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "custodes", "serve", "--workspace", ws, "--port", str(port),
                             "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "CUSTODES_WORKSPACE": ""})
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() is not None else "timeout"
                time.sleep(0.2)
        # each request on a new connection, so either worker may take it: every session works on both
        statuses = [httpx.get(f"{base}/incidents", cookies=cookies, timeout=30).status_code
                    for cookies in [_sign_in(base) for _ in range(5)] for _ in range(4)]
        assert statuses == [200] * 20
    finally:
        proc.terminate()
        proc.wait(timeout=20)
