"""Findings as OCSF Detection Finding events (class_uid 2004, OCSF 1.3), for a SIEM."""

from __future__ import annotations

from custodes import __version__
from custodes.timefmt import parse_iso

SEVERITY_ID = {"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
OBSERVABLE_TYPE = {"src_ip": (2, "IP Address"), "actor_id": (4, "User Name"),
                   "employee_id": (4, "User Name"), "credential_id": (99, "Other"),
                   "kid": (99, "Other"), "asn": (99, "Other"), "country": (99, "Other")}


def _ms(text: str) -> int:
    return int(parse_iso(text).timestamp() * 1000)


def to_ocsf(finding: dict) -> dict:
    observables = [
        {"name": key, "type_id": OBSERVABLE_TYPE.get(key, (99, "Other"))[0],
         "type": OBSERVABLE_TYPE.get(key, (99, "Other"))[1], "value": value}
        for key, values in sorted(finding["entities"].items()) for value in values
    ]
    return {
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
        "severity_id": SEVERITY_ID[finding["severity"]],
        "severity": finding["severity"].capitalize() if finding["severity"] != "info" else "Informational",
        "status_id": 1,
        "status": "New",
        "time": _ms(finding["detected_at"]),
        "message": finding["title"],
        "metadata": {
            "version": "1.3.0",
            "product": {"name": "custodes", "vendor_name": "custodes project", "version": __version__},
            "correlation_uid": finding.get("incident_id"),
        },
        "finding_info": {
            "uid": finding["finding_id"],
            "title": finding["title"],
            "analytic": {"uid": finding["rule_id"], "name": finding["rule_id"], "type_id": 1, "type": "Rule"},
            "first_seen_time": _ms(finding["first_seen"]),
            "last_seen_time": _ms(finding["last_seen"]),
            "attacks": [{"technique": {"uid": t}, "version": "v14"} for t in finding["attack"]],
            "related_events_count": finding["evidence"].get("requests"),
        },
        "observables": observables,
        "unmapped": {"evidence": finding["evidence"], "entities": finding["entities"],
                     "window": finding.get("window")},
    }
