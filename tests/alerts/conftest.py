"""Hand-made detection results for the alerts tests: findings grouped by detection's own
grouping, stored where detection stores them, and the workspace's alerts configuration."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from custodes.detect import store
from custodes.detect.incidents import group

from .receivers import SyslogTCP, SyslogUDP, Webhook

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 1, 5, 12, 0, tzinfo=UTC)  # the wall clock the tests pass to process()


def finding(fid: str, rule: str = "token.unissued", severity: str = "critical", day: int = 14,
            kid: str = "k-2019", src_ip: str = "203.0.113.7", requests: int = 10, accounts: int = 5,
            hour: int = 10, title: str | None = None) -> dict:
    return {
        "finding_id": fid, "rule_id": rule, "title": title or f"{rule} with {kid}", "severity": severity,
        "attack": ["T1606"], "first_seen": f"2025-04-{day:02d}T{hour - 1:02d}:00:00Z",
        "last_seen": f"2025-04-{day:02d}T{hour:02d}:00:00Z", "detected_at": f"2025-04-{day:02d}T{hour:02d}:00:00Z",
        "entities": {"kid": [kid] if kid else [], "src_ip": [src_ip] if src_ip else [], "credential_id": [],
                     "actor_id": [], "employee_id": []},
        "evidence": {"requests": requests, "accounts": accounts}, "incident_id": None, "window": f"2025-04-{day:02d}",
    }


def save(ws, findings: list[dict]) -> list[dict]:
    """Store findings and their incidents as `custodes detect` does; the incidents."""
    findings = [dict(f) for f in findings]
    incidents = group(findings)
    store.save(ws, findings, incidents)
    return incidents


def configure(ws, sinks: list[dict], **alerts) -> None:
    config = {"alerts": {"sinks": sinks, **alerts}}
    ws.config_path.write_text(yaml.safe_dump(config))


@pytest.fixture
def webhook():
    w = Webhook(secret=b"s3cret-hook-key")
    yield w
    w.close()


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "hook.secret"
    path.write_bytes(b"s3cret-hook-key\n")  # the trailing newline is not part of the key
    return path


@pytest.fixture
def udp():
    r = SyslogUDP()
    yield r
    r.close()


@pytest.fixture
def tcp():
    r = SyslogTCP()
    yield r
    r.close()
