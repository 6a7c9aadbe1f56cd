"""Triage through the CLI (the real program in a subprocess): ack, assign, resolve, note, show,
suppress, lift; `incidents --format json` gains state, assignee, suppressed; every action names
who and when, and lands in the console's audit trail when there is one; a suppression
silences, new evidence reopens."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

from custodes.console.audit import verify

from ..alerts.cli import run
from ..alerts.conftest import configure, finding, save




def incidents(ws):
    return json.loads(run(ws, "incidents", "--format", "json").stdout)


def test_triage_cycle_through_the_cli(workspace, tmp_path):
    (inc,) = save(workspace, [finding("f-1")])
    iid = inc["incident_id"]
    (before,) = incidents(workspace)
    assert {k: before[k] for k in ("state", "assignee", "suppressed")} == {
        "state": "new", "assignee": None, "suppressed": False}
    assert set(before) >= {"incident_id", "title", "severity", "first_seen", "last_seen", "finding_ids", "entities"}
    assert "acknowledged" in run(workspace, "incidents", "ack", iid, "--by", "anna").stdout
    run(workspace, "incidents", "assign", iid, "bob", "--by", "anna")
    run(workspace, "incidents", "note", iid, "token forged from 203.0.113.7", "--by", "anna")
    r = run(workspace, "incidents", "resolve", iid, "--by", "anna", "--format", "json")
    assert json.loads(r.stdout)["state"] == "resolved"
    (after,) = incidents(workspace)
    assert (after["state"], after["assignee"]) == ("resolved", "bob")
    shown = json.loads(run(workspace, "incidents", "show", iid, "--format", "json").stdout)
    assert [(h["action"], h["by"], h["via"]) for h in shown["history"]] == [
        ("ack", "anna", "cli"), ("assign", "anna", "cli"), ("note", "anna", "cli"), ("resolve", "anna", "cli")]
    assert all(h["at"].endswith("Z") and h["os_user"] for h in shown["history"])
    # the group's own --workspace reaches its subcommands
    r = subprocess.run([sys.executable, "-m", "custodes", "incidents", "--workspace", str(workspace.root),
                        "show", iid], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "state: resolved" in r.stdout


def test_suppression_silences_and_new_evidence_reopens_through_the_cli(workspace, tmp_path):
    alerts = tmp_path / "alerts.jsonl"
    configure(workspace, [{"type": "file", "path": str(alerts)}])
    (inc,) = save(workspace, [finding("f-1")])
    r = run(workspace, "suppress", "--rule", "token.unissued", "--reason", "pen test this week", "--for", "7d",
            "--by", "anna", "--format", "json")
    sid = json.loads(r.stdout)["suppression_id"]
    assert incidents(workspace)[0]["suppressed"] is True
    assert run(workspace, "alerts", "send").returncode == 0 and not alerts.exists()  # silenced
    listed = json.loads(run(workspace, "suppress", "--list", "--format", "json").stdout)
    assert [s["suppression_id"] for s in listed] == [sid] and listed[0]["created_by"] == "anna"
    run(workspace, "suppress", "--lift", sid, "--by", "anna")
    run(workspace, "alerts", "send")
    assert [json.loads(line)["event"] for line in alerts.read_text().splitlines()] == ["opened"]

    run(workspace, "incidents", "resolve", inc["incident_id"], "--by", "anna")
    save(workspace, [finding("f-1"), finding("f-2", day=15)])  # detection ran again: new evidence
    assert incidents(workspace)[0]["state"] == "new"
    run(workspace, "alerts", "send")
    assert [json.loads(line)["event"] for line in alerts.read_text().splitlines()] == ["opened", "reopened"]


def test_cli_actions_go_to_the_console_audit_trail_when_there_is_one(workspace):
    (inc,) = save(workspace, [finding("f-1")])
    (workspace.root / "console").mkdir(exist_ok=True)
    run(workspace, "incidents", "ack", inc["incident_id"], "--by", "anna")
    run(workspace, "suppress", "--entity", "src_ip=203.0.113.7", "--reason", "NAT", "--for", "1h", "--by", "anna")
    trail = workspace.root / "console" / "audit.jsonl"
    entries = [json.loads(line) for line in trail.read_text().splitlines()]
    assert [(e["action"], e["user"], e["client"]) for e in entries] == [
        ("triage.ack", "cli:anna", "cli"), ("triage.suppress", "cli:anna", "cli")]
    assert entries[0]["target"] == inc["incident_id"] and entries[0]["detail"]["os_user"]
    assert verify(trail).ok


def test_bad_triage_input_is_one_line_not_a_traceback(workspace):
    save(workspace, [finding("f-1")])
    r = run(workspace, "incidents", "ack", "i-unknown", check=False)
    assert r.returncode == 1 and "unknown incident 'i-unknown'; see `custodes incidents`" in r.stderr and "Traceback" not in r.stderr
    r = run(workspace, "suppress", "--rule", "token.unissued", "--reason", "x", check=False)
    assert r.returncode == 2 and "--for DURATION or --until TIME" in r.stderr
    r = run(workspace, "suppress", "--rule", "token.unissued", "--reason", "x", "--for", "forever", check=False)
    assert r.returncode == 2
    r = run(workspace, "incidents", "note", "i-x", "\x1b]0;owned\x07", check=False)
    assert r.returncode == 2 and "control character" in r.stderr
    until = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = run(workspace, "suppress", "--rule", "token.unissued", "--reason", "x", "--until", until, check=False)
    assert r.returncode == 2 and "not in the future" in r.stderr


def test_a_suppression_of_a_rule_nobody_has_is_refused(workspace):
    """`suppress --rule token.unisued` used to be stored and silence nothing, while its author
    believed the pen test's findings were silenced (and those of the real attack went on
    alerting, or, worse, the author stopped looking). An unknown id is a usage error with the
    nearest one; nothing is stored."""
    save(workspace, [finding("f-1")])
    r = run(workspace, "suppress", "--rule", "token.unisued", "--reason", "pen test", "--for", "7d", check=False)
    assert r.returncode == 2 and "no rule has the id 'token.unisued'; did you mean token.unissued?" in r.stderr
    listed = run(workspace, "suppress", "--list", "--format", "json")
    assert json.loads(listed.stdout) == []
    ok = run(workspace, "suppress", "--rule", "token.unissued", "--reason", "pen test", "--for", "7d", check=False)
    assert ok.returncode == 0, ok.stderr
