"""Syslog (RFC 5424 over UDP and TCP, CEF), Slack and file sinks against loopback receivers;
per-sink min_severity; log text that tries to forge records, mentions or links."""

from __future__ import annotations

import json
import re
import stat

from custodes.alerts import process

from .conftest import NOW, configure, finding, save
from .receivers import Webhook

RFC5424 = re.compile(rb"^<(\d{1,3})>1 (\S+) (\S+) custodes (\d+) (\S+) - (.*)$", re.S)


def test_syslog_udp_rfc5424_carries_the_alert_json(workspace, udp):
    save(workspace, [finding("f-1")])
    configure(workspace, [{"type": "syslog", "port": udp.port, "protocol": "udp"}])
    report = process(workspace, NOW)
    assert report.ok
    m = RFC5424.match(udp.receive())
    assert m, "not an RFC 5424 record"
    assert int(m.group(1)) == 16 * 8 + 2  # local0, crit
    assert m.group(5) == b"opened"
    assert json.loads(m.group(6))["alert_id"] == report.enqueued[0]["alert_id"]


def test_syslog_tcp_octet_counted_and_a_crafted_title_cannot_start_a_record(workspace, tcp):
    title = "x\n<10>1 2025-01-01T00:00:00Z forged custodes 1 opened - {\"alert_id\": \"a-fake\"}"
    save(workspace, [finding("f-1", title=title), finding("f-2", kid="k-other", src_ip="192.0.2.9", title=title)])
    configure(workspace, [{"type": "syslog", "port": tcp.port, "protocol": "tcp"}])
    report = process(workspace, NOW)
    assert report.ok and len(report.delivered) == 2
    import time

    for _ in range(50):
        if len(tcp.records()) == 2:
            break
        time.sleep(0.05)
    records = tcp.records()
    assert len(records) == 2
    for rec in records:
        m = RFC5424.match(rec)
        assert m and b"\n" not in rec
        assert json.loads(m.group(6))["title"] == title


def test_syslog_cef_escapes_separators_and_line_breaks(workspace, udp):
    title = "k|2019 = forged\nCEF:0|evil|x"
    save(workspace, [finding("f-1", title=title)])
    configure(workspace, [{"type": "syslog", "port": udp.port, "format": "cef"}])
    assert process(workspace, NOW).ok
    msg = RFC5424.match(udp.receive()).group(6).decode()
    assert msg.startswith("CEF:0|custodes|custodes|")
    header = re.split(r"(?<!\\)\|", msg)
    assert len(header) == 8  # seven header fields and the extensions: no field was added
    assert header[5] == "k\\|2019 = forged CEF:0\\|evil\\|x" and header[6] == "10"
    assert "\n" not in msg and "externalId=a-" in header[7]


def test_slack_payload_is_readable_escaped_and_links_the_console(workspace):
    hook = Webhook()
    try:
        save(workspace, [finding("f-1", title="<!channel> forged <https://evil.example|click> & more")])
        configure(workspace, [{"type": "slack", "url": hook.url}])
        workspace.config_path.write_text(workspace.config_path.read_text()
                                         + "console:\n  url: https://custodes.example.org/\n")
        report = process(workspace, NOW)
        assert report.ok
        payload = hook.received[0]["json"]
        text = json.dumps(payload)
        assert "<!channel>" not in text and "<https://evil.example" not in text
        assert "&lt;!channel&gt;" in payload["text"] and "&amp; more" in payload["text"]
        inc = report.enqueued[0]["incident_id"]
        assert f"<https://custodes.example.org/incidents/{inc}|Open incident {inc} in the console>" in text
        assert "CRITICAL incident opened" in payload["text"]
    finally:
        hook.close()


def test_file_sink_appends_one_json_line_per_alert_0600(workspace, tmp_path):
    path = tmp_path / "alerts.jsonl"
    save(workspace, [finding("f-1"), finding("f-2", kid="k-2", src_ip="192.0.2.1")])
    configure(workspace, [{"type": "file", "path": str(path)}])
    report = process(workspace, NOW)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert sorted(a["alert_id"] for a in lines) == sorted(a["alert_id"] for a in report.enqueued)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_min_severity_globally_and_per_sink(workspace, tmp_path):
    everything, critical_only, default = (tmp_path / n for n in ("all.jsonl", "crit.jsonl", "default.jsonl"))
    save(workspace, [finding("f-c", severity="critical"),
                     finding("f-h", severity="high", kid="k-h", src_ip="192.0.2.2"),
                     finding("f-m", severity="medium", kid="k-m", src_ip="192.0.2.3"),
                     finding("f-l", severity="low", kid="k-l", src_ip="192.0.2.4")])
    configure(workspace, [{"type": "file", "name": "all", "path": str(everything), "min_severity": "medium"},
                          {"type": "file", "name": "crit", "path": str(critical_only), "min_severity": "critical"},
                          {"type": "file", "name": "default", "path": str(default)}], min_severity="high")

    def severities(path):
        return sorted(json.loads(line)["severity"] for line in path.read_text().splitlines())

    process(workspace, NOW)
    assert severities(everything) == ["critical", "high", "medium"]
    assert severities(critical_only) == ["critical"]
    assert severities(default) == ["critical", "high"]
