"""``syslog``: RFC 5424 messages over UDP or TCP (RFC 6587 octet counting, or newline framing),
the MSG being the alert object as JSON, or with ``format: cef`` an ArcSight CEF record.

Over UDP a datagram handed to the network counts as delivered: UDP says no more. Use TCP where
losing one matters. Severity maps to syslog's: critical 2 (crit), high 3 (err), medium 4
(warning), low 5 (notice), info 6 (informational); the facility is ``facility`` (16, local0).
Text from the logs cannot start a new record: JSON escapes line breaks, and CEF escapes its
separators and line breaks itself.
"""

from __future__ import annotations

import datetime as dt
import os
import socket

from custodes import __version__
from custodes.alerts.sinks import DeliveryError, network_error

SYSLOG_SEVERITY = {"critical": 2, "high": 3, "medium": 4, "low": 5, "info": 6}
CEF_SEVERITY = {"critical": 10, "high": 8, "medium": 5, "low": 3, "info": 1}


def _hostname() -> str:
    name = socket.gethostname() or "-"
    return "".join(c for c in name if 33 <= ord(c) <= 126)[:255] or "-"


def _cef_header(value) -> str:
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _cef_value(value) -> str:
    return (str(value).replace("\\", "\\\\").replace("=", "\\=")
            .replace("\r", "\\r").replace("\n", "\\n"))


def cef(alert: dict) -> str:
    """ArcSight CEF:0 with the incident's facts as extensions."""
    ents = alert.get("entities") or {}
    ext = {
        "externalId": alert["alert_id"],
        "act": alert["event"],
        "cs1Label": "incident_id", "cs1": alert.get("incident_id") or "",
        "cs2Label": "rule_ids", "cs2": ",".join(alert.get("rule_ids") or []),
        "cs3Label": "kid", "cs3": ",".join(ents.get("kid") or []),
        "cs4Label": "credential_id", "cs4": ",".join(ents.get("credential_id") or []),
        "src": (ents.get("src_ip") or [""])[0],
        "suser": ",".join(ents.get("actor_id") or []),
        "duser": ",".join(ents.get("employee_id") or []),
        "cnt": (alert.get("evidence") or {}).get("requests", 0),
        "start": alert.get("first_seen") or "",
        "end": alert.get("last_seen") or "",
    }
    signature = (alert.get("rule_ids") or [alert["event"]])[0]
    head = "|".join(_cef_header(v) for v in (
        "CEF:0", "custodes", "custodes", __version__, signature, alert.get("title") or alert["event"],
        CEF_SEVERITY.get(alert.get("severity"), 5)))
    return head + "|" + " ".join(f"{k}={_cef_value(v)}" for k, v in ext.items() if v not in ("", None))


def record(config, alert: dict, body: bytes, now: dt.datetime | None = None) -> bytes:
    """One RFC 5424 record: <PRI>1 TIMESTAMP HOST custodes PID MSGID - MSG."""
    now = now or dt.datetime.now(dt.timezone.utc)
    pri = config.facility * 8 + SYSLOG_SEVERITY.get(alert.get("severity"), 5)
    stamp = now.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    msg = cef(alert).encode("utf-8") if config.format == "cef" else body
    head = f"<{pri}>1 {stamp} {_hostname()} custodes {os.getpid()} {alert['event']} - "
    return head.encode("ascii") + msg


def send(config, alert: dict, body: bytes) -> None:
    data = record(config, alert, body)
    try:
        if config.protocol == "udp":
            with socket.socket(_family(config.host), socket.SOCK_DGRAM) as sock:
                sock.settimeout(config.timeout)
                sock.sendto(data, (config.host, config.port))
            return
        framed = (f"{len(data)} ".encode() + data) if config.framing == "octet-counting" else data + b"\n"
        with socket.create_connection((config.host, config.port), timeout=config.timeout) as sock:
            sock.sendall(framed)
    except OSError as exc:
        raise network_error(exc, config.timeout) from None
    except ValueError:
        raise DeliveryError("the syslog host is not a valid address") from None


def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
