"""Grouping findings into incidents.

Two findings belong to one incident when they share an entity value (a kid, an address, a
credential, an actor, an employee, an ASN) and their time spans come within ``GAP`` of each
other; the relation is closed transitively (union-find), so a months-long forgery seen day by
day is one incident. Posture findings (a key outliving its custodian: a span from the departure
to now) never bridge two event findings; each joins the most severe incident it shares an
entity with, or stands alone. Low and info findings (ledger gaps, posture notes) group only among
themselves: a benign ledger gap sharing the customer key must not blur a critical incident.
The incident id hashes its earliest finding's id, so it is stable across runs.
"""

from __future__ import annotations

import datetime as dt

from custodes.detect.rule import SEVERITIES, SEVERITY_RANK, stable_id
from custodes.text import plural
from custodes.timefmt import parse_iso

GAP = dt.timedelta(days=3)
LINK_KEYS = ("kid", "src_ip", "credential_id", "actor_id", "employee_id", "asn")


class _Sets:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _band(finding: dict) -> int:
    return 1 if SEVERITY_RANK[finding["severity"]] >= SEVERITY_RANK["medium"] else 0


def group(findings: list[dict]) -> list[dict]:
    """Incidents of ``findings`` (which get their ``incident_id`` set), most severe first."""
    findings = sorted(findings, key=lambda f: (f["first_seen"], f["finding_id"]))
    events = [i for i, f in enumerate(findings) if f.get("window") != "posture"]
    postures = [i for i, f in enumerate(findings) if f.get("window") == "posture"]
    sets = _Sets(len(findings))
    _link(findings, events, sets)
    _attach(findings, postures, events, sets)
    groups: dict[int, list[dict]] = {}
    for i, f in enumerate(findings):
        groups.setdefault(sets.find(i), []).append(f)
    incidents = [_incident(members) for members in groups.values()]
    incidents.sort(key=lambda x: (-SEVERITY_RANK[x["severity"]], x["first_seen"], x["incident_id"]))
    return incidents


def _values(finding: dict):
    for key in LINK_KEYS:
        for value in finding["entities"].get(key, []):
            yield (_band(finding), key, value)


def _link(findings: list[dict], members_of: list[int], sets: _Sets) -> None:
    by_value: dict[tuple, list[int]] = {}
    for i in members_of:
        for v in _values(findings[i]):
            by_value.setdefault(v, []).append(i)
    for members in by_value.values():
        # members are in first_seen order: chain each to the span so far while they overlap
        reach, anchor = None, None
        for i in members:
            start, end = parse_iso(findings[i]["first_seen"]), parse_iso(findings[i]["last_seen"])
            if reach is not None and start <= reach + GAP:
                sets.union(anchor, i)
                reach = max(reach, end)
            else:
                anchor, reach = i, end


def _attach(findings: list[dict], postures: list[int], events: list[int], sets: _Sets) -> None:
    """Each posture finding joins the most severe event group sharing an entity after it began."""
    by_value: dict[tuple, list[int]] = {}
    for i in events:
        for v in _values(findings[i]):
            by_value.setdefault(v, []).append(i)
    for p in postures:
        begins = parse_iso(findings[p]["first_seen"])
        candidates = {j for v in _values(findings[p]) for j in by_value.get(v, [])
                      if parse_iso(findings[j]["last_seen"]) >= begins}
        if candidates:
            best = max(candidates, key=lambda j: (SEVERITY_RANK[findings[j]["severity"]],
                                                  -sets.find(j)))
            sets.union(sets.find(best), p)
    # posture findings left alone still group with each other when they share an entity
    _link(findings, [p for p in postures if sets.find(p) == p], sets)


def _incident(members: list[dict]) -> dict:
    incident_id = stable_id("i", members[0]["finding_id"])
    top = max(members, key=lambda f: (SEVERITY_RANK[f["severity"]], f["evidence"].get("accounts", 0) or 0))
    entities: dict[str, set] = {}
    for f in members:
        f["incident_id"] = incident_id
        for key, values in f["entities"].items():
            entities.setdefault(key, set()).update(values)
    rules = sorted({f["rule_id"] for f in members})
    # An incident spans its events; a posture finding's span (a key's whole life) would blur it.
    timed = [f for f in members if f.get("window") != "posture"] or members
    first = min(f["first_seen"] for f in timed)
    last = max(f["last_seen"] for f in timed)
    days = (parse_iso(last) - parse_iso(first)).days + 1
    title = top["title"] if len(members) == 1 else (
        f"{top['title']} (+{plural(len(members) - 1, 'related finding')}: {', '.join(rules)}; "
        f"over {plural(days, 'day')})")
    return {
        "incident_id": incident_id,
        "title": title,
        "severity": top["severity"],
        "first_seen": first,
        "last_seen": last,
        "detected_at": min(f["detected_at"] for f in members),
        "severity_history": severity_history(members),
        "finding_ids": sorted(f["finding_id"] for f in members),
        "rule_ids": rules,
        "entities": {k: sorted(v) for k, v in sorted(entities.items())},
    }


def history_of(finding: dict) -> list[dict]:
    """A finding's severity history (findings stored before histories existed: one entry)."""
    return finding.get("severity_history") or [
        {"severity": finding["severity"], "detected_at": finding["detected_at"]}]


def severity_history(members: list[dict]) -> list[dict]:
    """When the incident first stood at each severity it rose to (data time of the run that
    reported it), and the finding that raised it: one entry per rise, oldest first.

    A level counts as reached when any member finding was reported at it or above, so an
    incident reported critical at once has one entry, not four."""
    first: dict[str, tuple[str, dict]] = {}
    for f in members:
        for entry in history_of(f):
            for level in SEVERITIES[:SEVERITY_RANK[entry["severity"]] + 1]:
                if level not in first or entry["detected_at"] < first[level][0]:
                    first[level] = (entry["detected_at"], f)
    rises = []
    for level in reversed(SEVERITIES):  # highest first: a lower level reached at the same time adds nothing
        if level in first and all(first[level][0] < r["detected_at"] for r in rises):
            at, f = first[level]
            rises.append({"severity": level, "detected_at": at, "finding_id": f["finding_id"],
                          "rule_id": f["rule_id"]})
    return rises[::-1]
