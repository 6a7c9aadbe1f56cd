"""Detections beside a simulator's ground truth (CONTRACT.md §4): used by `custodes demo` and
bench/quality_detect.py.

An incident is attributed to a scenario when it shares an indicator other than the kid with it
(the forged kid also signs every legitimate app token, so it alone proves nothing).
"""

from __future__ import annotations

import json
from pathlib import Path

from custodes.detect.incidents import history_of
from custodes.timefmt import parse_iso

HIGH = ("high", "critical")
ENTITY_KEYS = ("kid", "src_ip", "credential_id", "actor_id", "employee_id")


def load_truth(sim_dir: Path) -> dict:
    sim_dir = Path(sim_dir)
    gt = json.loads((sim_dir / "ground_truth.json").read_text())
    for s in gt["scenarios"]:
        s["account_set"] = set((sim_dir / s["accounts"]).read_text().split())
    return gt


def shared_indicators(entities: dict, indicators: dict) -> set[str]:
    return {k for k in ENTITY_KEYS if set(entities.get(k, [])) & set(indicators.get(k, []))}


def attribute(incident: dict, scenarios: list[dict]) -> dict | None:
    best, score = None, 0
    for s in scenarios:
        shared = shared_indicators(incident["entities"], s["indicators"])
        if shared - {"kid"} and len(shared) > score:
            best, score = s, len(shared)
    return best


def compare(incidents: list[dict], truth: dict) -> dict:
    """Per scenario, the high/critical incident that names it; and high/critical incidents
    that no scenario explains (false alarms)."""
    scenarios = {}
    for s in truth["scenarios"]:
        mine = [i for i in incidents if i["severity"] in HIGH and attribute(i, [s]) is s]
        # the incident that says most about it: most severe, most indicators, most findings
        mine.sort(key=lambda i: (-HIGH.index(i["severity"]),
                                 -len(shared_indicators(i["entities"], s["indicators"])),
                                 -len(i["finding_ids"]), i["incident_id"]))
        scenarios[s["name"]] = {
            "start": s["start"], "detected": bool(mine),
            "incident_id": mine[0]["incident_id"] if mine else None,
            "severity": mine[0]["severity"] if mine else None,
            "detected_at": mine[0].get("detected_at") if mine else None,
            "indicators": sorted(shared_indicators(mine[0]["entities"], s["indicators"])) if mine else [],
        }
    unexplained = [i["incident_id"] for i in incidents
                   if i["severity"] in HIGH and attribute(i, truth["scenarios"]) is None]
    return {"scenarios": scenarios, "unexplained_high": unexplained}


def time_to_detect(findings: list[dict], incidents: list[dict], truth: dict) -> dict[str, dict]:
    """Per scenario: when detection first raised its activity at high or critical, in data time
    (the data time of the run that did: ``severity_history``), and how long after the
    scenario's first request; None where it never did.

    What counts is a finding about events (not the posture of keys and credentials) of a
    high/critical incident attributed to the scenario, whose evidence reaches into the
    scenario's time. A posture finding at high before the start (a key outliving its departed
    custodian) is reported apart, as ``warned_at``: it is a warning, not a detection."""
    out = {}
    for s in truth["scenarios"]:
        mine = {i["incident_id"] for i in incidents if i["severity"] in HIGH and attribute(i, [s]) is s}
        members = [f for f in findings if f.get("incident_id") in mine]
        raised = [(e["detected_at"], e["severity"], f) for f in members if f.get("window") != "posture"
                  and f["last_seen"] >= s["start"] for e in history_of(f) if e["severity"] in HIGH]
        warned = [e["detected_at"] for f in members if f.get("window") == "posture"
                  for e in history_of(f) if e["severity"] in HIGH]
        entry = {"start": s["start"], "detected_at": None, "delay_minutes": None, "severity": None,
                 "rule_id": None, "finding_id": None, "incident_id": None,
                 "warned_at": min(warned) if warned else None}
        if raised:
            at, severity, f = min(raised, key=lambda r: (r[0], -HIGH.index(r[1]), r[2]["finding_id"]))
            delay = (parse_iso(at) - parse_iso(s["start"])).total_seconds() / 60
            entry.update(detected_at=at, delay_minutes=round(delay, 1), severity=severity,
                         rule_id=f["rule_id"], finding_id=f["finding_id"], incident_id=f["incident_id"])
        out[s["name"]] = entry
    return out


def render(result: dict) -> str:
    lines = []
    for name, s in result["scenarios"].items():
        if s["detected"]:
            lines.append(f"  {name:<22} DETECTED {s['severity']:<8} {s['incident_id']}  started {s['start']}, "
                         f"detected (data time) {s['detected_at']}, indicators: {', '.join(s['indicators'])}")
        else:
            lines.append(f"  {name:<22} missed (started {s['start']})")
    n = len(result["unexplained_high"])
    lines.append(f"  high/critical incidents with no scenario behind them: {n}")
    return "\n".join(lines)
