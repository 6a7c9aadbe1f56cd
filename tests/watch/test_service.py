"""`custodes watch` as a process: one per workspace, SIGTERM ends the current cycle first,
/metrics and /healthz on loopback, log lines as JSON or as escaped text."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from custodes.workspace import Workspace

from .conftest import access_csv, configure, lake_request_ids, run_watch, watch_cmd

pytestmark = pytest.mark.slow


def start(ws, *args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(watch_cmd(ws, *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def wait_for_line(proc: subprocess.Popen, pattern: str, timeout: float = 120) -> tuple[str, list[str]]:
    """Read stderr until a line matches; (the line, every line read)."""
    seen = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if re.search(pattern, line):
            return line, seen
    raise AssertionError(f"no line matching {pattern!r} in:\n{''.join(seen)}")


def get(url: str) -> tuple[int, str, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), dict(e.headers)


def test_one_watch_per_workspace(workspace, tmp_path):
    configure(workspace, [])
    first = start(workspace, "--interval", "30")
    try:
        wait_for_line(first, r"cycle ok")
        second = run_watch(workspace, "--once")
        assert second.returncode == 1
        assert re.search(rf"another custodes watch \(pid {first.pid}\) is running", second.stderr), second.stderr
    finally:
        first.terminate()
        first.wait(30)
    assert run_watch(workspace, "--once").returncode == 0  # the lock went with the process


def test_sigterm_ends_the_current_cycle_first(workspace, tmp_path):
    src = tmp_path / "gateway"
    src.mkdir()
    for i in range(40):
        access_csv(src / f"gw-{i:02d}.csv", first=i * 50, n=50)
    configure(workspace, [{"dataset": "access", "path": str(src), "quiet_seconds": 0}])
    proc = start(workspace, "--interval", "30")
    wait_for_line(proc, r"watching")
    time.sleep(1.5)  # some files in: the first cycle is ingesting
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "SIGTERM: stopping after the current cycle" in err
    cycle = [line for line in err.splitlines() if "custodes.watch: cycle" in line]
    assert len(cycle) == 1 and "cycle ok" in cycle[0]  # the cycle ended, and no other began
    assert err.rstrip().endswith("stopped")
    loaded = lake_request_ids(workspace)
    assert 0 < len(loaded) < 2000 and len(set(loaded)) == len(loaded)  # stopped early, whole files only
    rest = run_watch(workspace, "--once")
    assert rest.returncode == 0, rest.stderr
    assert sorted(lake_request_ids(workspace)) == sorted(f"r{i}" for i in range(2000))


def test_metrics_and_healthz_on_loopback(workspace, tmp_path):
    src = tmp_path / "gateway"
    src.mkdir()
    access_csv(src / "gw.csv", first=0, n=25)
    bad = src / "bad.csv"
    bad.write_text("time,src_ip,method,route,status,actor_type,credential_type\n"
                   "yesterday,10.0.0.1,GET,/x,200,customer,none\n")
    configure(workspace, [{"dataset": "access", "path": str(src), "quiet_seconds": 0}],
              alerts={"sinks": [{"type": "file", "path": str(tmp_path / "alerts.jsonl")}]})
    proc = start(workspace, "--interval", "0.5", "--metrics", "0")
    try:
        line, _ = wait_for_line(proc, r"metrics on http://")
        url = re.search(r"(http://127\.0\.0\.1:\d+)/metrics", line).group(1)
        wait_for_line(proc, r"cycle ok")
        status, text, headers = get(url + "/metrics")
        assert status == 200 and headers["Content-Type"].startswith("text/plain")
        assert 'custodes_watch_source_rows_total{dataset="access",source="access"} 25.0' in text
        assert 'custodes_watch_source_quarantined_total{dataset="access",source="access"} 1.0' in text
        assert 'custodes_watch_source_up{source="access"} 1.0' in text
        assert 'custodes_watch_source_lag_seconds{source="access"} 0.0' in text
        assert re.search(r'custodes_watch_source_data_lag_seconds\{source="access"\} \d', text)
        assert re.search(r"custodes_watch_cycle_seconds_count [1-9]", text)
        assert re.search(r'custodes_watch_cycles_total\{result="ok"\} [1-9]', text)
        assert "custodes_alert_outbox_depth" in text and "custodes_incidents{" in text  # alerts' metrics
        status, body, _ = get(url + "/healthz")
        assert status == 200 and json.loads(body)["status"] == "ok"
        assert get(url + "/")[0] == 404
        (src / "gw-broken.parquet").write_bytes(b"PAR1 not really")
        deadline = time.time() + 60
        while time.time() < deadline and get(url + "/healthz")[0] == 200:
            time.sleep(0.2)
        status, body, _ = get(url + "/healthz")
        assert status == 503 and json.loads(body)["status"] == "failing"
        assert "gw-broken.parquet" in json.loads(body)["last_cycle"]["errors"][0]
        _, text, _ = get(url + "/metrics")
        assert 'custodes_watch_source_up{source="access"} 0.0' in text
        assert 'custodes_watch_source_pending_files{source="access"} 1.0' in text
    finally:
        proc.terminate()
        proc.wait(30)


def test_metrics_address_defaults_to_loopback():
    from custodes.watch.metrics import parse_address

    assert parse_address("9108") == ("127.0.0.1", 9108)
    assert parse_address(":9108") == ("127.0.0.1", 9108)
    assert parse_address("0.0.0.0:9108") == ("0.0.0.0", 9108)
    assert parse_address("[::1]:9108") == ("::1", 9108)
    with pytest.raises(ValueError):
        parse_address("localhost")


def test_json_log_lines(workspace, tmp_path):
    src = tmp_path / "gateway"
    src.mkdir()
    access_csv(src / "gw.csv", first=0, n=5)
    configure(workspace, [{"dataset": "access", "path": str(src), "quiet_seconds": 0}])
    r = run_watch(workspace, "--once", "--log-format", "json")
    assert r.returncode == 0, r.stderr
    records = [json.loads(line) for line in r.stderr.splitlines()]
    assert {"time", "level", "logger", "message"} <= set(records[0])
    (source,) = [x for x in records if x.get("event") == "source"]
    assert (source["source"], source["rows"], source["level"]) == ("access", 5, "INFO")
    assert [x for x in records if x.get("event") == "cycle"][0]["ok"] is True


def test_a_crafted_file_name_cannot_forge_a_log_line(workspace, tmp_path):
    """A local user who can name a file in a watched directory puts a line break and a fake log
    line in the name: in text each control character is escaped, in JSON it is encoded."""
    src = tmp_path / "gateway"
    src.mkdir()
    forged = "2026-01-01T00:00:00Z ERROR custodes.watch: cycle FAILED"
    (src / f"x\n{forged}\x1b[2J.log").write_text("junk")
    access_csv(src / "gw.csv", first=0, n=5)
    configure(workspace, [{"dataset": "access", "path": str(src), "quiet_seconds": 0}])
    text = run_watch(workspace, "--once")
    assert text.returncode == 0, text.stderr
    assert not any(line.startswith("2026-01-01T00:00:00Z") for line in text.stderr.splitlines())
    assert "\x1b" not in text.stderr and "\\x1b[2J" in text.stderr
    other = Workspace.open(tmp_path / "ws2")  # the warning comes once a workspace
    configure(other, [{"dataset": "access", "path": str(src), "quiet_seconds": 0}])
    as_json = run_watch(other, "--once", "--log-format", "json")
    records = [json.loads(line) for line in as_json.stderr.splitlines()]  # every line is one record
    assert any(forged in r["message"] for r in records)
