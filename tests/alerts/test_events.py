"""Which alerts go out, cycle after cycle: opened once, escalated when severity rises, updated
for new entities or doubled evidence at most once an hour (wall clock), reopened when new
evidence reopens a closed incident; suppressed and closed incidents stay quiet."""

from __future__ import annotations

import datetime as dt
import json

from custodes import triage
from custodes.alerts import process
from custodes.alerts.outbox import path_of

from .conftest import NOW, configure, finding, save

HOUR = dt.timedelta(hours=1)


def _events(report):
    return [(a["event"], a["severity"]) for a in report.enqueued]


def _setup(workspace, tmp_path, **alerts):
    configure(workspace, [{"type": "file", "path": str(tmp_path / "alerts.jsonl")}], **alerts)


def _sent(tmp_path):
    return [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]


def test_below_min_severity_nothing_then_opened_when_it_reaches_it(workspace, tmp_path):
    _setup(workspace, tmp_path)
    save(workspace, [finding("f-1", severity="medium")])
    assert process(workspace, NOW).enqueued == []
    save(workspace, [finding("f-1", severity="medium"), finding("f-2", severity="high", day=15)])
    assert _events(process(workspace, NOW + HOUR)) == [("opened", "high")]


def test_escalated_when_severity_rises_not_when_it_stays(workspace, tmp_path):
    _setup(workspace, tmp_path)
    save(workspace, [finding("f-1", severity="high")])
    assert _events(process(workspace, NOW)) == [("opened", "high")]
    save(workspace, [finding("f-1", severity="high"), finding("f-2", severity="critical", day=15)])
    assert _events(process(workspace, NOW + dt.timedelta(minutes=5))) == [("escalated", "critical")]
    assert process(workspace, NOW + dt.timedelta(minutes=10)).enqueued == []


def test_updated_for_doubled_evidence_at_most_once_an_hour_and_never_lost(workspace, tmp_path):
    _setup(workspace, tmp_path)
    save(workspace, [finding("f-1", requests=100)])
    assert _events(process(workspace, NOW)) == [("opened", "critical")]
    save(workspace, [finding("f-1", requests=150)])  # half as much again: not "much more"
    assert process(workspace, NOW + 2 * HOUR).enqueued == []
    save(workspace, [finding("f-1", requests=150), finding("f-2", day=15, requests=100)])  # 250: doubled
    assert _events(process(workspace, NOW + 2 * HOUR)) == [("updated", "critical")]
    save(workspace, [finding("f-1", requests=150), finding("f-2", day=15, requests=100),
                     finding("f-3", day=16, requests=900)])  # doubled again, within the hour
    assert process(workspace, NOW + 2 * HOUR + dt.timedelta(minutes=30)).enqueued == []  # held back
    assert _events(process(workspace, NOW + 3 * HOUR)) == [("updated", "critical")]  # not lost
    assert _sent(tmp_path)[-1]["evidence"]["requests"] == 1150


def test_updated_for_a_new_entity(workspace, tmp_path):
    _setup(workspace, tmp_path)
    save(workspace, [finding("f-1")])
    process(workspace, NOW)
    second = finding("f-2", day=15, src_ip="198.51.100.99")
    save(workspace, [finding("f-1"), second])
    assert _events(process(workspace, NOW + HOUR)) == [("updated", "critical")]
    assert "198.51.100.99" in _sent(tmp_path)[-1]["entities"]["src_ip"]


def test_update_limit_is_wall_clock_so_a_future_log_time_cannot_silence_updates(workspace, tmp_path):
    """A forged event dated in 2099 pushes data time forward; updates still come each hour."""
    _setup(workspace, tmp_path)
    save(workspace, [finding("f-1")])
    process(workspace, NOW)
    future = finding("f-2", day=15, src_ip="198.51.100.1")
    future["last_seen"] = future["detected_at"] = "2099-01-01T00:00:00Z"
    save(workspace, [finding("f-1"), future])
    assert _events(process(workspace, NOW + HOUR)) == [("updated", "critical")]
    save(workspace, [finding("f-1"), future, finding("f-3", day=16, src_ip="198.51.100.2")])
    assert _events(process(workspace, NOW + 2 * HOUR)) == [("updated", "critical")]


def test_closed_incidents_stay_quiet_until_new_evidence_reopens_them(workspace, tmp_path):
    _setup(workspace, tmp_path)
    (inc,) = save(workspace, [finding("f-1")])
    process(workspace, NOW)
    triage.act(workspace, inc["incident_id"], "resolve", by="anna", now=NOW)
    save(workspace, [finding("f-1")])  # detection ran again: nothing new
    assert process(workspace, NOW + HOUR).enqueued == []
    save(workspace, [finding("f-1"), finding("f-2", day=15)])
    report = process(workspace, NOW + 2 * HOUR)
    assert _events(report) == [("reopened", "critical")] and report.reopened == [inc["incident_id"]]
    assert triage.history(workspace, inc["incident_id"])[-1]["action"] == "reopened"
    assert process(workspace, NOW + 3 * HOUR).enqueued == []


def test_false_positive_does_not_silence_the_future_a_suppression_does_and_expires(workspace, tmp_path):
    _setup(workspace, tmp_path)
    (inc,) = save(workspace, [finding("f-1")])
    triage.act(workspace, inc["incident_id"], "false_positive", by="mallory", now=NOW)
    assert process(workspace, NOW).enqueued == []  # closed before it was ever alerted
    save(workspace, [finding("f-1"), finding("f-2", day=15)])
    assert _events(process(workspace, NOW + HOUR)) == [("opened", "critical")]  # nobody heard of it yet

    triage.suppress(workspace, rule="token.unissued", reason="drill", expires_at=NOW + 5 * HOUR,
                    by="mallory", now=NOW + HOUR)
    save(workspace, [finding("f-1"), finding("f-2", day=15), finding("f-3", day=16, src_ip="192.0.2.77")])
    assert process(workspace, NOW + 2 * HOUR).enqueued == []  # suppressed
    assert _events(process(workspace, NOW + 6 * HOUR)) == [("updated", "critical")]  # expired: held-back news


def test_entity_suppression_covers_only_findings_that_carry_it(workspace, tmp_path):
    _setup(workspace, tmp_path)
    triage.suppress(workspace, entity=("src_ip", "203.0.113.7"), reason="office NAT",
                    expires_at=NOW + 24 * HOUR, now=NOW)
    save(workspace, [finding("f-1")])
    assert process(workspace, NOW).enqueued == []
    # the same forgery from another address as well: not every finding is covered, so it alerts
    save(workspace, [finding("f-1"), finding("f-2", day=15, src_ip="198.51.100.5")])
    assert _events(process(workspace, NOW + HOUR)) == [("opened", "critical")]


def test_the_same_alert_worked_out_again_has_the_same_id(workspace, tmp_path):
    """An outbox deleted (or restored from an old backup) sends the same ids again, so a
    receiver that dedups by alert_id drops them."""
    _setup(workspace, tmp_path)
    save(workspace, [finding("f-1", severity="high")])
    first = process(workspace, NOW).enqueued
    save(workspace, [finding("f-1", severity="high"), finding("f-2", day=15, severity="critical")])
    second = process(workspace, NOW + HOUR).enqueued
    for suffix in ("", "-wal", "-shm"):
        path_of(workspace).with_name(path_of(workspace).name + suffix).unlink(missing_ok=True)
    again = process(workspace, NOW + 2 * HOUR).enqueued
    assert [a["event"] for a in again] == ["opened"]
    assert again[0]["alert_id"] == first[0]["alert_id"] != second[0]["alert_id"]
