"""kill -9 of a running `custodes watch`, at chosen points of a cycle and at random moments,
while a simulated platform's files keep arriving: afterwards every row is in the lake exactly
once and every high or critical incident reached the receivers at its severity."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import time

import pyarrow.parquet as pq
import pytest
import yaml

from custodes.watch.replay import Feed, configuration

from .conftest import lake_request_ids, run_watch, watch_cmd

pytestmark = pytest.mark.slow

#: (environment, what it kills): points inside a cycle, each a real SIGKILL of the process.
POINTS = [
    ({"CUSTODES_LAKE_CRASH_AT": "mid_file"}, "while a source file is being ingested"),
    ({"CUSTODES_LAKE_CRASH_AT": "after_commit"}, "after the lake committed a file, before watch recorded it"),
    ({"CUSTODES_WATCH_CRASH_AT": "after_ingest"}, "after ingest returned"),
    ({"CUSTODES_WATCH_CRASH_AT": "before_detect"}, "after every file, before detection"),
    ({"CUSTODES_WATCH_CRASH_AT": "before_alerts"}, "after detection, before the alerts"),
]


def _lake_token_ids(ws) -> list[str]:
    import duckdb

    files = sorted(str(p) for p in ws.dataset_dir("issuance").rglob("part-*.parquet"))
    return [r[0] for r in duckdb.sql(f"SELECT token_id FROM read_parquet({files!r})").fetchall()] if files else []


def _world_ids(sim, dataset: str, column: str) -> list[str]:
    return sorted(v for f in sorted((sim / dataset).glob("*.parquet"))
                  for v in pq.read_table(f, columns=[column]).column(column).to_pylist())


def _killed(ws, env: dict | None = None, after: float | None = None) -> None:
    """Start watch; kill it -9 after ``after`` seconds (past its imports), or let a crash point do it."""
    proc = subprocess.Popen(watch_cmd(ws, "--interval", "0.2"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **(env or {})})
    if after is None:
        proc.wait(180)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read()[-2000:]
        return
    for line in proc.stderr:
        if "watching" in line:
            break
    time.sleep(after)
    proc.kill()
    proc.wait(30)


def test_kill_9_at_any_point_loses_no_row_and_no_alert(workspace, small_world, tmp_path):
    from tests.alerts.receivers import Webhook

    hook = Webhook()
    try:
        feed_dir = tmp_path / "feed"
        config = configuration(small_world, feed_dir, tmp_path / "alerts.jsonl")
        config["alerts"]["sinks"].append({"type": "webhook", "url": hook.url})
        config["alerts"]["retry"] = {"base_seconds": 0.05, "max_seconds": 0.2}
        workspace.config_path.write_text(yaml.safe_dump(config))
        feed = Feed(small_world, feed_dir)
        days = [feed.start + dt.timedelta(days=d) for d in range(7, (feed.end - feed.start).days + 1)]
        rng = random.Random(15)
        kills = []
        for i, day in enumerate(days):
            feed.until(day)
            if i < len(POINTS):
                env, what = POINTS[i]
                _killed(workspace, env)
                kills.append(what)
            else:
                _killed(workspace, after=rng.uniform(0.2, 4.0))
                kills.append("at a random moment")
        for _ in range(3):  # what was left, by a watch that is not killed
            done = run_watch(workspace, "--once", "--format", "json")
            report = json.loads(done.stdout)
            if done.returncode == 0 and not sum(report["alerts"]["pending"].values()):
                break
        assert done.returncode == 0, done.stderr[-2000:]

        assert len(kills) >= len(POINTS) + 3
        assert sorted(lake_request_ids(workspace)) == _world_ids(small_world, "access", "request_id")
        assert sorted(_lake_token_ids(workspace)) == _world_ids(small_world, "issuance", "token_id")

        from custodes.detect.store import load_incidents

        serious = [i for i in load_incidents(workspace) if i["severity"] in ("high", "critical")]
        assert serious
        received = [r["json"] for r in hook.received]
        written = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
        for alerts in (received, written):
            heard = {(a["incident_id"], a["severity"]) for a in alerts}
            heard |= {(old, a["severity"]) for a in alerts for old in a.get("previous_incident_ids", [])}
            for incident in serious:
                ids = {incident["incident_id"], *incident["previous_incident_ids"]}
                assert any((i, incident["severity"]) in heard for i in ids), incident["title"]
        assert {a["alert_id"] for a in received} == {a["alert_id"] for a in written}
    finally:
        hook.close()
