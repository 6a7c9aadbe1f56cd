"""`custodes guard ...` as operators script it: verdict lines, exit codes, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from custodes.guard import mint

from .conftest import claims


def run(*args, **kw):
    return subprocess.run([sys.executable, "-m", "custodes", "guard", *args], capture_output=True,
                          text=True, timeout=60, **kw)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    key = mint.generate("ES256", "k-cli")
    (d / "jwks.json").write_text(json.dumps(mint.jwks(key)))
    now = int(time.time())
    live = dict(iss=None, aud=None, iat=now - 5, exp=now + 600)
    tokens = [key.sign(claims(jti="t1", sub="alice", **live)),
              key.sign(claims(jti="t2", sub="bob", **live)),
              key.sign(claims(jti="forged", sub="carol", **live))]
    (d / "tokens.txt").write_text("\n".join([tokens[0], "garbage", "", tokens[1], tokens[2]]) + "\n")
    (d / "issuance.csv").write_text(
        "time,token_id,kid,subject,actor_type,iat,exp\n"
        f"2025-01-01T00:00:00Z,t1,k-cli,alice,customer,{now - 5},{(now + 600) * 1000}\n"
        f"2025-01-01T00:00:00Z,t2,k-cli,bob,customer,"
        f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(now - 5))},{now + 600}\n"
        f"2025-01-01T00:00:00Z,t3,k-cli,,customer,{now},{now + 600}\n"
        f"2025-01-01T00:00:00Z,t4,k-cli,dave,customer,yesterday,{now + 600}\n")
    return {"dir": d, "tokens": tokens, "keys": str(d / "jwks.json"), "now": now}


def verdicts(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_verify_one_token_prints_one_verdict(world):
    r = run("verify", "--keys", world["keys"], world["tokens"][0])
    assert r.returncode == 0
    assert verdicts(r.stdout) == [{"ok": True, "reason": "ok", "kid": "k-cli", "sub": "alice",
                                   "jti": "t1"}]


def test_verify_tokens_file_one_line_each_in_order_and_exit_1(world):
    r = run("verify", "--keys", world["keys"], "--tokens", str(world["dir"] / "tokens.txt"))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert [(v["ok"], v["reason"]) for v in verdicts(r.stdout)] == [
        (True, "ok"), (False, "malformed"), (False, "missing_token"), (True, "ok"), (True, "ok")]


def test_ledger_load_then_verify_then_revoke(world, tmp_path):
    ledger = f"sqlite:///{tmp_path}/ledger.db"
    r = run("ledger", "load", str(world["dir"] / "issuance.csv"), "--ledger", ledger,
            "--format", "json")
    assert r.returncode == 1  # two bad rows: reported, skipped, the rest loaded
    assert json.loads(r.stdout)["recorded"] == 2
    assert "row 3, column subject" in r.stderr and "row 4, column iat" in r.stderr
    r = run("verify", "--keys", world["keys"], "--ledger", ledger,
            "--tokens", str(world["dir"] / "tokens.txt"))
    assert [v["reason"] for v in verdicts(r.stdout)] == [
        "ok", "malformed", "missing_token", "ok", "not_issued"]
    assert run("revoke", "--jti", "t2", "--ledger", ledger).returncode == 0
    r = run("verify", "--keys", world["keys"], "--ledger", ledger, world["tokens"][1])
    assert r.returncode == 1 and verdicts(r.stdout)[0]["reason"] == "revoked_jti"


def test_ledger_load_from_parquet_and_jsonl(world, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    now = world["now"] + 0.25  # sub-second parts of the issuance rows do not matter
    rows = {"time": [now], "token_id": ["t1"], "kid": ["k-cli"], "subject": ["alice"],
            "actor_type": ["customer"], "iat": [now - 5], "exp": [now + 600]}
    table = pa.table(rows).set_column(5, "iat", pa.array([int((now - 5) * 1e6)], pa.timestamp("us", "UTC")))
    pq.write_table(table, tmp_path / "iss.parquet")
    (tmp_path / "iss.jsonl").write_text(json.dumps({**{k: v[0] for k, v in rows.items()},
                                                    "token_id": "t2", "subject": "bob"}) + "\n")
    ledger = f"sqlite:///{tmp_path}/l.db"
    for name in ("iss.parquet", "iss.jsonl"):
        r = run("ledger", "load", str(tmp_path / name), "--ledger", ledger)
        assert r.returncode == 0, r.stderr
    r = run("verify", "--keys", world["keys"], "--ledger", ledger, "--tokens",
            str(world["dir"] / "tokens.txt"))
    assert [v["reason"] for v in verdicts(r.stdout)][3] == "ok"


@pytest.mark.parametrize("args,code", [
    (["verify", "--keys", "/nonexistent.json", "x"], 1),
    (["verify", "--keys", "KEYS"], 2),
    (["verify", "--keys", "KEYS", "--ledger", "ftp://x", "x"], 2),
    (["verify", "--keys", "KEYS", "--max-lifetime", "forever", "x"], 2),
    (["revoke", "--ledger", "sqlite:///x.db"], 2),
    (["revoke", "--jti", "j", "--ledger", "memory:"], 2),
    (["ledger", "load", "/nonexistent.csv", "--ledger", "sqlite:///x.db"], 1),
    (["serve", "--keys", "KEYS"], 2),
])
def test_bad_usage_and_bad_input_exit_cleanly(world, tmp_path, args, code):
    args = [world["keys"] if a == "KEYS" else a for a in args]
    r = run(*args, cwd=tmp_path)
    assert r.returncode == code, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_jwks_with_private_key_material_is_refused(tmp_path):
    key = mint.generate("ES256", "k")
    jwk = key.public_jwk(d="AAAA")
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    r = run("verify", "--keys", str(tmp_path / "jwks.json"), "x")
    assert r.returncode == 1 and "private key material" in r.stderr


def test_verify_start_up_stays_light(world):
    """No DuckDB, Spark, Ibis, pyarrow, nor the server (Starlette, prometheus_client) on verify's path: it runs per token at the edge."""
    code = ("import sys; from custodes.cli import main\n"
            "try:\n    main(['guard', 'verify', '--keys', sys.argv[1], sys.argv[2]])\n"
            "except SystemExit:\n    pass\n"
            "heavy = [m for m in ('duckdb', 'pyspark', 'ibis', 'pyarrow', 'uvicorn', 'redis', 'starlette', 'prometheus_client')"
            " if m in sys.modules]\nprint('HEAVY', heavy, file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", code, world["keys"], world["tokens"][0]],
                       capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in r.stderr, r.stderr


def test_serve_on_a_busy_port_is_one_clear_error(world, tmp_path):
    import socket

    from custodes.guard.ledger import open_ledger

    open_ledger(f"sqlite:///{tmp_path}/l.db").close()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = run("serve", "--keys", world["keys"], "--ledger", f"sqlite:///{tmp_path}/l.db",
                "--port", str(port), "--workspace", str(tmp_path / "ws"))
    assert r.returncode == 1 and "cannot listen on 127.0.0.1" in r.stderr
    assert "Traceback" not in r.stderr


def test_serve_with_two_workers(world, tmp_path):
    import signal

    import httpx

    from .conftest import free_port

    ledger = f"sqlite:///{tmp_path}/l.db"
    assert run("ledger", "load", str(world["dir"] / "issuance.csv"), "--ledger", ledger).returncode == 1
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "custodes", "guard", "serve", "--keys", world["keys"],
                             "--ledger", ledger, "--port", str(port), "--workers", "2",
                             "--events", str(tmp_path / "events"), "--workspace", str(tmp_path / "ws")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}/auth"
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                httpx.get(url, timeout=0.5)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        codes = [httpx.get(url, headers={"Authorization": f"Bearer {t}"}, timeout=5).status_code
                 for t in world["tokens"] * 5]
        assert codes == [200, 200, 401] * 5
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    rows = [json.loads(line) for f in (tmp_path / "events").glob("access-*.jsonl")
            for line in f.read_text().splitlines()]
    assert sorted(r["guard_reason"] for r in rows if r["credential_type"] != "none") == sorted(
        ["ok", "ok", "not_issued"] * 5)


def _guard_options(words: list[str]) -> set[str]:
    import click

    from custodes.cli import cli as root

    command, ctx = root, click.Context(root)
    for word in ["guard", *words]:
        command = command.get_command(ctx, word)
        assert command is not None, f"custodes guard {' '.join(words)}: no such command"
    return {opt for p in command.params for opt in p.opts + p.secondary_opts}


def test_the_guard_options_the_docs_name_exist():
    """docs/guard.md's synopses and README's additions name only options the CLI has."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    synopses = (root / "docs" / "guard.md").read_text().split("```", 2)[1]
    readme = (root / "README.md").read_text()
    spans = re.split(r"(?=custodes guard )", synopses)[1:]
    spans += re.findall(r"`(custodes guard [^`]*)`", " ".join(readme.split()))
    checked = 0
    for span in spans:
        words = re.match(r"custodes guard ((?:[a-z]+ )*)", span + " ").group(1).split()
        words = [w for w in words if w in ("verify", "ledger", "load", "revoke", "serve")]
        documented = set(re.findall(r"(--[a-z][a-z-]*)", span))
        missing = documented - _guard_options(words)
        assert not missing, f"custodes guard {' '.join(words)}: documented {sorted(missing)}"
        checked += len(documented)
    assert checked >= 30
