"""Detections beside a simulator's ground truth (CONTRACT.md §4): used by `custodes demo` and
bench/quality_detect.py.

An incident is attributed to a scenario when it shares an indicator other than the kid with it
(the forged kid also signs every legitimate app token, so it alone proves nothing).
"""

from __future__ import annotations

import json
from pathlib import Path

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
