"""An alert in words, for people (Slack, e-mail, syslog, the terminal).

Titles and entity values come from the logs, which an insider can write: control characters
(terminal escapes, line breaks that would forge a new syslog or header line, bidi overrides)
are shown as ``\\xNN``, and each sink escapes what its own format treats specially.
"""

from __future__ import annotations

import re

from custodes.text import plural

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
ENTITIES_SHOWN = 5


def printable(text) -> str:
    """``text`` with every control character written as an escape: one safe line."""
    return _UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256
                       else f"\\u{ord(m.group()):04x}", str(text))


def headline(alert: dict) -> str:
    if alert["event"] == "test":
        return "custodes test alert: this sink works"
    return (f"[custodes] {alert['severity'].upper()} incident {alert['event']}: "
            f"{printable(alert['title'])}")


def entity_lines(alert: dict) -> list[str]:
    lines = []
    for key, values in (alert.get("entities") or {}).items():
        if values:
            shown = ", ".join(printable(v) for v in values[:ENTITIES_SHOWN])
            more = f" (+{len(values) - ENTITIES_SHOWN} more)" if len(values) > ENTITIES_SHOWN else ""
            lines.append(f"{key}: {shown}{more}")
    return lines


def body_lines(alert: dict) -> list[str]:
    """The alert's facts, one per line, for a person reading a message."""
    if alert["event"] == "test":
        return [f"alert_id: {alert['alert_id']}", "Sent by custodes alerts test; no incident."]
    ev = alert.get("evidence") or {}
    lines = [
        f"incident: {alert['incident_id']} ({alert['event']}, severity {alert['severity']})",
        f"seen: {alert['first_seen']} .. {alert['last_seen']} (detected at {alert['detected_at']})",
        f"rules: {', '.join(printable(r) for r in alert.get('rule_ids') or [])}",
        f"evidence: {plural(ev.get('requests', 0), 'request')}, {plural(ev.get('accounts', 0), 'account')}",
        *entity_lines(alert),
    ]
    if alert.get("previous_incident_ids"):
        lines.append(f"previously: {', '.join(alert['previous_incident_ids'])}")
    if alert.get("url"):
        lines.append(f"console: {alert['url']}")
    lines.append(f"alert_id: {alert['alert_id']}")
    return lines
