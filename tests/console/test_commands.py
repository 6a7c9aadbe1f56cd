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
