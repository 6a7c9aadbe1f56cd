"""What an incident holds, in the few numbers triage and alerts compare over time.

An incident's evidence is ``requests`` and ``accounts`` summed over the days of each rule's
event findings, and the largest of those sums across its rules (two rules counting the same
requests must not add up). A customer seen on two days counts twice: this is a measure of
growth, not the blast radius (``custodes scope`` gives that exactly). Posture findings carry no
requests, and their ``last_seen`` is every run's now, so they never count as new evidence;
a new posture finding does.
"""

from __future__ import annotations

EVIDENCE_KEYS = ("requests", "accounts")


def members(incident: dict, findings_by_id: dict[str, dict]) -> list[dict]:
    """The incident's findings; when they are not at hand, one stand-in per rule."""
    found = [findings_by_id[f] for f in incident.get("finding_ids") or [] if f in findings_by_id]
    if found:
        return found
    return [{"finding_id": None, "rule_id": r, "entities": incident.get("entities") or {},
             "window": None, "evidence": {}, "last_seen": incident.get("last_seen")}
            for r in incident.get("rule_ids") or [None]]


def _is_event(finding: dict) -> bool:
    return finding.get("window") != "posture"


def evidence(found: list[dict]) -> dict[str, int]:
    per_rule: dict[str, dict[str, int]] = {}
    for f in found:
        if not _is_event(f):
            continue
        sums = per_rule.setdefault(f.get("rule_id"), dict.fromkeys(EVIDENCE_KEYS, 0))
        for key in EVIDENCE_KEYS:
            value = (f.get("evidence") or {}).get(key)
            if isinstance(value, (int, float)):
                sums[key] += int(value)
    return {key: max((s[key] for s in per_rule.values()), default=0) for key in EVIDENCE_KEYS}


def snapshot(incident: dict, found: list[dict]) -> dict:
    """The incident as it stands, in the terms of :func:`grew`."""
    timed = [f["last_seen"] for f in found if _is_event(f) and f.get("last_seen")]
    return {
        "finding_ids": sorted(incident.get("finding_ids") or []),
        "last_seen": max(timed) if timed else None,
        **evidence(found),
    }


def grew(now: dict, then: dict) -> list[str]:
    """Why ``now`` holds evidence ``then`` did not (empty: nothing new)."""
    reasons = []
    added = sorted(set(now["finding_ids"]) - set(then.get("finding_ids") or []))
    if added:
        reasons.append(f"{len(added)} new finding{'s' if len(added) > 1 else ''}")
    if now["last_seen"] and (then.get("last_seen") is None or now["last_seen"] > then["last_seen"]):
        reasons.append(f"activity until {now['last_seen']}")
    for key in EVIDENCE_KEYS:
        if now[key] > (then.get(key) or 0):
            reasons.append(f"{key} {then.get(key) or 0} -> {now[key]}")
    return reasons
