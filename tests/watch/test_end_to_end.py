"""End to end: a simulated platform's files arrive in slices while `custodes watch` runs as a
service; its alerts reach a signed webhook and an SMTP server with STARTTLS and a password, both
on loopback. The webhook is down for the first cycles: nothing is lost, nothing doubled after
dedup by alert_id, and SIGTERM stops the service cleanly."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import time

import pytest
import yaml

from custodes.watch.replay import Feed, configuration

from tests.alerts.receivers import Webhook

from .conftest import watch_cmd

pytestmark = pytest.mark.slow
pytest.importorskip("aiosmtpd", reason="aiosmtpd is not installed (pip install -e '.[test]')")
from tests.alerts.test_email import PASSWORD, smtp  # noqa: E402,F401 - the SMTP server fixture


def _until(predicate, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_watch_end_to_end_webhook_down_then_up_and_email(workspace, small_world, smtp, tmp_path):  # noqa: F811 - the imported fixture
    inbox, smtp_port, ca_file = smtp
    secret = tmp_path / "hook.secret"
    secret.write_bytes(b"e2e-hook-key\n")
    password = tmp_path / "smtp.pass"
    password.write_text(PASSWORD + "\n")
    hook = Webhook(secret=b"e2e-hook-key")
    hook.status = 503  # down for the first cycles
    feed_dir = tmp_path / "feed"
    config = configuration(small_world, feed_dir, tmp_path / "alerts.jsonl")
    config["alerts"]["retry"] = {"base_seconds": 0.2, "max_seconds": 1}
    config["alerts"]["sinks"] += [
        {"type": "webhook", "name": "soc", "url": hook.url, "secret_file": str(secret)},
        {"type": "email", "host": "127.0.0.1", "port": smtp_port, "ca_file": str(ca_file), "username": "alerts",
         "password_file": str(password), "from": "custodes@example.org", "to": ["soc@example.org"]}]
    workspace.config_path.write_text(yaml.safe_dump(config))
    feed = Feed(small_world, feed_dir)
    proc = subprocess.Popen(watch_cmd(workspace, "--interval", "0.3", "--log-format", "json"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        days = [feed.start + dt.timedelta(days=d) for d in range(8, (feed.end - feed.start).days + 1, 2)]
        for day in days[:-1]:
            feed.until(day)
            time.sleep(1.0)
        failed_attempts = _outbox_failures(workspace)
        _until(lambda: _outbox_failures(workspace) > failed_attempts, 120, "the webhook to be tried while down")
        hook.status = 200
        feed.until(feed.end)
        _until(lambda: _caught_up(workspace, feed_dir) and _all_delivered(workspace), 300,
               "every file loaded and every alert delivered")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        hook.close()
    assert proc.returncode == 0, err[-2000:]
    records = [json.loads(line) for line in err.splitlines()]
    assert any(r.get("event") == "delivery_failed" and r["delivery"]["sink"] == "soc" for r in records)
    assert records[-1]["message"] == "stopped"

    from custodes.alerts.outbox import Outbox
    from custodes.detect.store import load_incidents

    with Outbox.open(workspace) as box:
        enqueued = {r["alert_id"] for r in box.db.execute("SELECT alert_id FROM alerts")}
    assert enqueued
    assert set(hook.ids()) == enqueued and hook.bad_signatures == 0  # nothing lost
    assert len(hook.ids()) == len(set(hook.ids()))  # nothing doubled (and none to drop by alert_id)
    mailed = [msg["X-Custodes-Alert-Id"] for _sender, _rcpts, msg in inbox.messages]
    assert set(mailed) == enqueued and len(mailed) == len(enqueued)
    serious = {i["incident_id"] for i in load_incidents(workspace) if i["severity"] in ("high", "critical")}
    assert serious <= {r["json"]["incident_id"] for r in hook.received}


def _outbox_failures(ws) -> int:
    from custodes.alerts.outbox import Outbox

    box = Outbox.open_existing(ws)
    if box is None:
        return 0
    with box:
        return box.tallies().get(("soc", "failed"), 0)


def _all_delivered(ws) -> bool:
    from custodes.alerts.outbox import Outbox

    box = Outbox.open_existing(ws)
    if box is None:
        return False
    with box:
        return not sum(box.depth().values()) and bool(box.events())


def _caught_up(ws, feed_dir) -> bool:
    from custodes.watch.state import WatchState

    with WatchState.open(ws) as state:
        loaded = {r["path"] for r in state.all_files() if r["status"] == "loaded"}
    return {str(p) for p in feed_dir.rglob("*.parquet")} <= loaded
