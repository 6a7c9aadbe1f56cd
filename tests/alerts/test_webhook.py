"""End to end through a loopback webhook receiver: the contract's headers and signature, a
receiver down for several cycles then up (nothing lost, nothing doubled after dedup), the
back-off across cycles and restarts."""

from __future__ import annotations

import datetime as dt
import json
import random

from custodes.alerts import process
from custodes.alerts.outbox import Outbox
from custodes.alerts.sinks.webhook import signature

from .conftest import NOW, configure, finding, save


def test_a_new_critical_incident_reaches_the_receiver_signed_as_the_contract_says(workspace, webhook, secret_file):
    (inc,) = save(workspace, [finding("f-1")])
    configure(workspace, [{"type": "webhook", "url": webhook.url, "secret_file": str(secret_file)}])
    report = process(workspace, NOW)
    assert report.ok and [a["event"] for a in report.enqueued] == ["opened"]
    (got,) = webhook.received
    assert webhook.bad_signatures == 0
    h = {k.lower(): v for k, v in got["headers"].items()}
    assert h["content-type"] == "application/json"
    assert h["idempotency-key"] == got["json"]["alert_id"]
    assert h["x-custodes-signature"] == signature(b"s3cret-hook-key", got["body"])
    alert = got["json"]
    assert {k: alert[k] for k in ("event", "incident_id", "severity", "rule_ids")} == {
        "event": "opened", "incident_id": inc["incident_id"], "severity": "critical", "rule_ids": ["token.unissued"]}
    assert set(alert["entities"]) >= {"kid", "src_ip", "credential_id", "actor_id", "employee_id"}
    assert alert["evidence"] == {"requests": 10, "accounts": 5}
    assert alert["first_seen"] == inc["first_seen"] and alert["detected_at"] == inc["detected_at"]
    # nothing new: nothing sent again
    assert process(workspace, NOW + dt.timedelta(minutes=1)).enqueued == []
    assert len(webhook.received) == 1


def test_a_wrong_key_is_caught_by_the_receiver_and_retried_not_dropped(workspace, webhook, tmp_path):
    save(workspace, [finding("f-1")])
    wrong = tmp_path / "wrong.secret"
    wrong.write_text("not-the-key\n")
    configure(workspace, [{"type": "webhook", "url": webhook.url, "secret_file": str(wrong)}])
    report = process(workspace, NOW)
    assert webhook.bad_signatures == 1 and webhook.received == []
    assert report.failed and report.failed[0]["error"] == "HTTP 401"
    assert report.pending == {"webhook": 1}


def test_receiver_down_for_several_cycles_then_up_loses_nothing_and_doubles_nothing(workspace, webhook, secret_file):
    configure(workspace, [{"type": "webhook", "url": webhook.url, "secret_file": str(secret_file)}],
              retry={"base_seconds": 30, "max_seconds": 600})
    rng = random.Random(7)
    findings = [finding("f-1")]
    save(workspace, findings)
    webhook.status = 503
    now = NOW
    expected = set()
    for cycle in range(8):  # new incidents keep arriving while the receiver is down
        findings.append(finding(f"f-k{cycle}", kid=f"k-{cycle}", src_ip=f"198.51.100.{cycle}", day=10))
        save(workspace, findings)
        report = process(workspace, now, rng=rng)
        expected |= {a["alert_id"] for a in report.enqueued}
        assert report.delivered == []
        now += dt.timedelta(minutes=1)
    assert len(expected) == 9 and webhook.received == []
    with Outbox.open(workspace) as box:
        assert box.depth() == {"webhook": 9}
    webhook.status = 200
    for _ in range(30):  # cycles go on; back-off (capped at 10 min) lets every delivery through
        process(workspace, now, rng=rng)
        now += dt.timedelta(minutes=1)
    assert set(webhook.ids()) == expected
    assert len(webhook.ids()) == len(set(webhook.ids()))  # delivered once each here
    assert webhook.bad_signatures == 0


def test_back_off_grows_is_capped_and_holds_across_restarts(workspace, webhook):
    save(workspace, [finding("f-1")])
    configure(workspace, [{"type": "webhook", "url": webhook.url}], retry={"base_seconds": 10, "max_seconds": 80})
    webhook.status = 500
    now, waits = NOW, []
    for _ in range(7):
        report = process(workspace, now, rng=random.Random(1))
        (failed,) = report.failed
        waits.append(failed["retry_in_s"])
        # a cycle before the retry is due tries nothing (the schedule lives in the outbox:
        # this is a new Outbox, as after a restart)
        assert process(workspace, now + dt.timedelta(seconds=failed["retry_in_s"] - 1)).failed == []
        now += dt.timedelta(seconds=failed["retry_in_s"] + 0.1)
    bases = [10, 20, 40, 80, 80, 80, 80]
    assert all(b / 2 <= w <= b for w, b in zip(waits, bases)), waits
    assert len(webhook.received) == 0


def test_refused_connection_is_retried_and_said_without_the_url(workspace, tmp_path):
    from .receivers import free_port

    url = f"http://127.0.0.1:{free_port()}/hook?token=url-secret-123"
    save(workspace, [finding("f-1")])
    configure(workspace, [{"type": "webhook", "url": url}])
    report = process(workspace, NOW)
    assert report.failed[0]["error"] == "connection refused"
    with Outbox.open(workspace) as box:
        assert "url-secret-123" not in json.dumps(box.listing())


def test_any_2xx_is_delivered(workspace, webhook):
    save(workspace, [finding("f-1")])
    configure(workspace, [{"type": "webhook", "url": webhook.url}])
    webhook.secret, webhook.status = None, 202
    assert process(workspace, NOW).delivered
