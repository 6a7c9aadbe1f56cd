"""kill -9 of `guard serve`: what it had answered is on disk (all but at most the last second),
and its unfinished file becomes an ordinary, ingestible events file at the next start."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from custodes.guard import mint
from custodes.guard.events import AccessLog
from custodes.guard.ledger import open_ledger

from .conftest import free_port


def finished_rows(directory) -> list[dict]:
    return [json.loads(line) for path in sorted(directory.glob("access-*.jsonl"))
            for line in path.read_text().splitlines()]


def test_a_dead_writers_part_is_finished_at_start(tmp_path):
    """Cut at the last newline (the torn line is dropped), renamed, private; whatever its pid,
    even this process's own (a container's next guard often gets the same pid)."""
    part = tmp_path / f".access-20250101T000000-{os.getpid()}-x-1.jsonl.part"
    part.write_bytes(b'{"a":1}\n{"a":2}\n{"a":')
    os.chmod(part, 0o644)
    empty = tmp_path / ".access-20250101T000000-1-y-1.jsonl.part"
    empty.write_bytes(b'{"torn')
    log = AccessLog(tmp_path)
    done = tmp_path / f"access-20250101T000000-{os.getpid()}-x-1.jsonl"
    assert log.recovered == [done]
    assert done.read_bytes() == b'{"a":1}\n{"a":2}\n'
    assert stat.S_IMODE(os.stat(done).st_mode) == 0o600
    assert not part.exists() and not empty.exists()  # nothing whole in it: removed
    log.close()


def test_a_live_writers_part_is_left_alone(tmp_path):
    """Another process still writing (it holds its file's lock): never touched. Safe to call
    at any time, from any process (`custodes watch` may)."""
    from custodes.guard.eventfiles import recover_parts

    code = ("import sys, time; from custodes.guard.events import AccessLog\n"
            "log = AccessLog(sys.argv[1]); log.write({'a': 1}); log.tick()\n"
            "print('ready', flush=True); time.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        [part] = tmp_path.glob(".access-*.part")
        assert recover_parts(tmp_path) == [] and part.exists()
        child.kill()
        child.wait(timeout=10)
        [done] = recover_parts(tmp_path)  # now its writer is gone
        assert json.loads(done.read_text()) == {"a": 1}
    finally:
        child.kill()


def test_events_reach_disk_within_a_second_without_further_requests(tmp_path):
    """The flusher hands buffered lines to the OS every second, request or not."""
    log = AccessLog(tmp_path)
    log.write({"credential_id": "j"})
    [part] = tmp_path.glob(".access-*.part")
    deadline = time.time() + 5
    while part.stat().st_size == 0 and time.time() < deadline:
        time.sleep(0.05)
    assert json.loads(part.read_bytes())["credential_id"] == "j"
    log.close()


@pytest.fixture
def served(tmp_path):
    """`guard serve` on a SQLite ledger with 200 issued tokens; the client sends a unique
    X-Request-ID with each request."""
    key = mint.generate("ES256", "k-crash")
    (tmp_path / "jwks.json").write_text(json.dumps(mint.jwks(key)))
    now = int(time.time())
    ledger = open_ledger(f"sqlite:///{tmp_path}/ledger.db")
    ledger.record_many([(f"t{i}", f"c{i}", "k-crash", now - 5, now + 3600) for i in range(200)])
    ledger.close()
    tokens = [key.sign({"sub": f"c{i}", "jti": f"t{i}", "iat": now - 5, "exp": now + 3600})
              for i in range(200)]
    tokens.append(key.sign({"sub": "x", "jti": "forged", "iat": now - 5, "exp": now + 3600}))
    port = free_port()

    def start():
        proc = subprocess.Popen(
            [sys.executable, "-m", "custodes", "guard", "serve", "--keys", str(tmp_path / "jwks.json"),
             "--ledger", f"sqlite:///{tmp_path}/ledger.db", "--port", str(port),
             "--events", str(tmp_path / "events"), "--workspace", str(tmp_path / "ws")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5)
                return proc
            except httpx.HTTPError:
                assert proc.poll() is None and time.time() < deadline, "guard serve did not start"
                time.sleep(0.1)

    procs = []
    yield {"start": lambda: procs.append(start()) or procs[-1], "tokens": tokens,
           "url": f"http://127.0.0.1:{port}/auth", "events": tmp_path / "events"}
    for proc in procs:
        proc.kill()
        proc.wait(timeout=10)


def load(url: str, tokens: list[str], until: threading.Event) -> list[tuple[str, float]]:
    """Requests from 4 threads until ``until``; (request id, when its answer arrived) each."""
    answered, counter = [], iter(range(10**9))

    def worker(n):
        with httpx.Client(timeout=5) as client:
            while not until.is_set():
                i = next(counter)
                rid = f"r{n}-{i}"
                try:
                    client.get(url, headers={"Authorization": f"Bearer {tokens[i % len(tokens)]}",
                                             "X-Request-ID": rid})
                except httpx.HTTPError:
                    return  # the server died under us
                answered.append((rid, time.time()))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(worker, range(4)))
    return answered


def test_kill_9_under_load_loses_at_most_the_last_second(served):
    server = served["start"]()
    stop = threading.Event()
    result = []
    loader = threading.Thread(target=lambda: result.extend(load(served["url"], served["tokens"], stop)))
    loader.start()
    time.sleep(3.0)
    server.send_signal(signal.SIGKILL)
    killed = time.time()
    server.wait(timeout=10)
    stop.set()
    loader.join(timeout=30)
    assert len(result) > 100, f"too little load to tell: {len(result)} answers"
    assert not list(served["events"].glob("access-*.jsonl"))  # nothing finished before the kill

    served["start"]()  # the next start finishes what the dead one left
    logged = {row["request_id"] for row in finished_rows(served["events"])}
    missing = [(rid, at) for rid, at in result if rid not in logged]
    # Lines reach the OS at least once a second; 0.5 s more for a loaded machine's scheduling.
    assert all(at > killed - 1.5 for _, at in missing), (len(missing), len(result))
    assert len(logged & {rid for rid, _ in result}) >= len(result) - len(missing)


def test_kill_9_after_a_quiet_second_loses_nothing(served):
    server = served["start"]()
    stop = threading.Event()
    timer = threading.Timer(2.0, stop.set)
    timer.start()
    answered = load(served["url"], served["tokens"], stop)
    time.sleep(1.5)  # no request now: the flusher alone must put the last lines on disk
    server.send_signal(signal.SIGKILL)
    server.wait(timeout=10)
    served["start"]()
    rows = finished_rows(served["events"])
    logged = {row["request_id"] for row in rows}
    assert {rid for rid, _ in answered} <= logged
    assert {row["guard_reason"] for row in rows} >= {"ok", "not_issued"}
