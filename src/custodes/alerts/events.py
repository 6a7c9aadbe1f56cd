"""Which alerts the incidents call for now, as a pure function of the incidents, their triage,
and what was already alerted (the memory, one entry per incident id).

- ``opened``: an incident at or above the lowest threshold any sink takes, never alerted;
- ``reopened``: a closed incident that new evidence reopened (triage counts reopenings);
- ``escalated``: its severity rose above what was last alerted;
- ``updated``: new entity values, or requests or accounts at least doubled, since the last
  alert, and the last alert at least ``update_every_seconds`` (an hour) ago in wall-clock time:
  the limit spares people's attention, which lives in wall time, and data time can be pushed
  forward by one forged log line. A change held back by the limit is not lost: it is compared
  with what was last alerted, so it goes out in the first cycle after the hour.

Resolved, false-positive and suppressed incidents alert nothing; a suppression that ends lets
what it held back alert then. ``alert_id`` hashes what the alert says, so the same alert has
the same id whenever it is sent again, even when it is worked out again after a crash.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from custodes.detect.rule import ENTITY_KEYS, SEVERITY_RANK, stable_id
from custodes.triage import evidence, lineage
from custodes.triage.model import CLOSED, View

ALERT_KEYS = ("alert_id", "event", "incident_id", "severity", "title", "first_seen", "last_seen",
              "detected_at", "rule_ids", "entities", "evidence")


@dataclass
class Memory:
    """What was last alerted about an incident id."""

    incident_id: str
    severity: str
    entities: dict[str, list[str]]
    evidence: dict[str, int]
    finding_ids: tuple[str, ...]
    reopens: int
    last_alert_at: float  # wall clock, epoch seconds
    merged_into: str | None = None


@dataclass
class Plan:
    alerts: list[dict] = field(default_factory=list)
    memories: list[Memory] = field(default_factory=list)  # to write with the alerts, atomically


def plan(incidents: list[dict], findings_by_id: dict[str, dict], views: dict[str, View],
         memories: dict[str, Memory], *, threshold: str, update_every: float, now: float,
         console_url: str | None = None) -> Plan:
    live = {mid: m.finding_ids for mid, m in memories.items() if m.merged_into is None}
    traces = lineage.trace(incidents, live)
    previous = lineage.ancestry({m.incident_id: m.merged_into for m in memories.values() if m.merged_into},
                                traces)
    out = Plan()
    for inc in incidents:
        iid = inc["incident_id"]
        memory = memories.get(iid) or _inherited(memories.get(traces[iid].inherit), iid)
        for old in traces[iid].retired:
            out.memories.append(Memory(**{**memories[old].__dict__, "merged_into": iid}))
        found = evidence.members(inc, findings_by_id)
        view = views.get(iid) or View(iid)
        event = decide(inc, view, memory, found, threshold, update_every, now)
        if event is None:
            if memory is not None and iid not in memories:
                out.memories.append(memory)  # carried to the new id, nothing to say yet
            continue
        view_previous = sorted(set(previous.get(iid, [])) | set(view.previous_ids))
        out.alerts.append(build(inc, event, view, found, view_previous, console_url))
        out.memories.append(remember(inc, view, found, memory, now))
    return out


def _inherited(memory: Memory | None, iid: str) -> Memory | None:
    return None if memory is None else Memory(**{**memory.__dict__, "incident_id": iid, "merged_into": None})


def _rank(severity: str) -> int:
    return SEVERITY_RANK[severity]


def decide(inc: dict, view: View, memory: Memory | None, found: list[dict], threshold: str,
           update_every: float, now: float) -> str | None:
    if view.state in CLOSED or view.suppressed or _rank(inc["severity"]) < _rank(threshold):
        return None
    if memory is None:
        return "opened"
    if view.reopens > memory.reopens:
        return "reopened"
    if _rank(inc["severity"]) > _rank(memory.severity):
        return "escalated"
    if now - memory.last_alert_at >= update_every and _much_more(inc, found, memory):
        return "updated"
    return None


def _much_more(inc: dict, found: list[dict], memory: Memory) -> bool:
    for key, values in (inc.get("entities") or {}).items():
        if set(values) - set(memory.entities.get(key, [])):
            return True
    ev = evidence.evidence(found)
    return any(ev[k] > memory.evidence.get(k, 0) and ev[k] >= 2 * memory.evidence.get(k, 0)
               for k in evidence.EVIDENCE_KEYS)


def remember(inc: dict, view: View, found: list[dict], memory: Memory | None, now: float) -> Memory:
    entities = {k: sorted(set(v) | set((memory.entities if memory else {}).get(k, [])))
                for k, v in (inc.get("entities") or {}).items()}
    top = inc["severity"] if memory is None or _rank(inc["severity"]) > _rank(memory.severity) else memory.severity
    return Memory(inc["incident_id"], top, entities, evidence.evidence(found),
                  tuple(sorted(inc.get("finding_ids") or [])), view.reopens, now)


def build(inc: dict, event: str, view: View, found: list[dict], previous: list[str],
          console_url: str | None) -> dict:
    """The CONTRACT.md §7 alert object, plus ``state``, ``assignee``,
    ``previous_incident_ids`` and, with ``console.url``, ``url``."""
    entities = {k: list(inc.get("entities", {}).get(k, [])) for k in ENTITY_KEYS}
    entities.update({k: list(v) for k, v in (inc.get("entities") or {}).items() if k not in entities})
    alert = {
        "alert_id": None, "event": event, "incident_id": inc["incident_id"], "severity": inc["severity"],
        "title": inc.get("title") or "", "first_seen": inc.get("first_seen"),
        "last_seen": inc.get("last_seen"), "detected_at": inc.get("detected_at"),
        "rule_ids": list(inc.get("rule_ids") or sorted({f.get("rule_id") for f in found if f.get("rule_id")})),
        "entities": entities, "evidence": evidence.evidence(found),
        "state": view.state, "assignee": view.assignee, "previous_incident_ids": previous,
    }
    if console_url:
        alert["url"] = f"{console_url}/incidents/{inc['incident_id']}"
    alert["alert_id"] = alert_id(alert, view)
    return alert


def alert_id(alert: dict, view: View) -> str:
    iid, event = alert["incident_id"], alert["event"]
    if event == "opened":
        return stable_id("a", iid, event)
    if event == "reopened":
        return stable_id("a", iid, event, view.reopens)
    if event == "escalated":
        return stable_id("a", iid, event, alert["severity"])
    said = {k: alert[k] for k in ("severity", "last_seen", "entities", "evidence")}
    return stable_id("a", iid, event, hashlib.sha256(json.dumps(said, sort_keys=True).encode()).hexdigest())


def body_of(alert: dict) -> bytes:
    """The bytes every sink sends (and the webhook signs): compact JSON, UTF-8."""
    return json.dumps(alert, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
