"""`custodes alerts` (outbox and deliveries), `alerts send`, `alerts test`; secrets (a webhook
key, a Slack URL, an SMTP password) never reach the outbox, the CLI's output or its errors."""

from __future__ import annotations

import json
import stat

from custodes.alerts.outbox import path_of

from .cli import run
from .conftest import configure, finding, save
from .receivers import Webhook, free_port




def test_send_list_and_test_through_the_cli(workspace, webhook, secret_file, tmp_path):
    save(workspace, [finding("f-1"), finding("f-2", kid="k-2", src_ip="192.0.2.1")])
    configure(workspace, [{"type": "webhook", "url": webhook.url, "secret_file": str(secret_file)},
                          {"type": "file", "name": "archive", "path": str(tmp_path / "a.jsonl")}])
    report = json.loads(run(workspace, "alerts", "send", "--format", "json").stdout)
    assert report["ok"] and len(report["enqueued"]) == 2 and len(report["delivered"]) == 4
    listed = json.loads(run(workspace, "alerts", "--format", "json").stdout)
    assert {a["alert_id"] for a in listed} == set(webhook.ids())
    assert all(sorted(d["sink"] for d in a["deliveries"]) == ["archive", "webhook"]
               and all(d["state"] == "delivered" and d["attempts"] == 1 for d in a["deliveries"]) for a in listed)
    text = run(workspace, "alerts").stdout
    assert "opened" in text and "delivered" in text
    r = run(workspace, "alerts", "test", "--format", "json")
    results = json.loads(r.stdout)
    assert [(t["sink"], t["ok"]) for t in results] == [("webhook", True), ("archive", True)]
    assert webhook.received[-1]["json"]["event"] == "test" and webhook.bad_signatures == 0
    for suffix in ("", "-wal"):
        p = path_of(workspace).with_name(path_of(workspace).name + suffix)
        if p.exists():
            assert stat.S_IMODE(p.stat().st_mode) == 0o600
    assert stat.S_IMODE(path_of(workspace).parent.stat().st_mode) == 0o700


def test_alerts_test_exits_1_naming_the_failed_sink(workspace, tmp_path):
    configure(workspace, [{"type": "webhook", "name": "soc", "url": f"http://127.0.0.1:{free_port()}/x"},
                          {"type": "file", "path": str(tmp_path / "a.jsonl")}])
    r = run(workspace, "alerts", "test", check=False)
    assert r.returncode == 1 and "soc" in r.stdout and "connection refused" in r.stdout
    assert "1 of 2 sinks failed" in r.stderr and "Traceback" not in r.stderr


def test_secrets_never_in_the_outbox_the_listing_or_the_errors(workspace, tmp_path):
    down = Webhook()
    down.status = 500
    try:
        slack_secret = "SLACKSECRETTOKEN123"
        url_file = tmp_path / "slack.url"
        url_file.write_text(f"{down.url}/services/T0/B0/{slack_secret}\n")
        hook_key = tmp_path / "hook.secret"
        hook_key.write_text("HOOKSECRETKEY456\n")
        smtp_pw = tmp_path / "smtp.pass"
        smtp_pw.write_text("SMTPSECRETPASS789\n")
        save(workspace, [finding("f-1")])
        configure(workspace, [
            {"type": "slack", "url_file": str(url_file)},
            {"type": "webhook", "url": f"http://127.0.0.1:{free_port()}/h?t=URLSECRET000", "secret_file": str(hook_key)},
            {"type": "email", "host": "127.0.0.1", "port": free_port(), "username": "u",
             "password_file": str(smtp_pw), "from": "a@example.org", "to": ["b@example.org"], "timeout": 2},
        ])
        outputs = [run(workspace, "alerts", "send", "--format", "json", check=False),
                   run(workspace, "alerts", "send", check=False),
                   run(workspace, "alerts", "--format", "json"), run(workspace, "alerts"),
                   run(workspace, "alerts", "test", check=False)]
        assert outputs[0].returncode == 1  # every sink failed this cycle
        errors = [d["last_error"] for d in json.loads(outputs[2].stdout)[0]["deliveries"]]
        assert sorted(errors) == ["HTTP 500", "connection refused", "connection refused"]
        stored = b"".join(p.read_bytes() for p in path_of(workspace).parent.iterdir())
        said = "".join(o.stdout + o.stderr for o in outputs)
        for secret in (slack_secret, "HOOKSECRETKEY456", "SMTPSECRETPASS789", "URLSECRET000"):
            assert secret.encode() not in stored and secret not in said
    finally:
        down.close()
