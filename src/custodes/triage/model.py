"""Triage as a pure function: remembered records + the current incidents -> each incident's
state now, and the changes that brings (a record carried over to a new id, a closed incident
reopened by new evidence).

The same function serves reading (``custodes incidents``, the console: nothing written) and
:func:`custodes.triage.actions.sync` (the changes written, with their history).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

from custodes.triage import evidence, lineage
from custodes.triage.suppressions import Suppression, matching

STATES = ("new", "acknowledged", "resolved", "false_positive")
CLOSED = frozenset({"resolved", "false_positive"})


@dataclass
class Record:
    """What was decided about one incident id."""

    incident_id: str
    state: str = "new"
    assignee: str | None = None
    finding_ids: tuple[str, ...] = ()
    closed: dict | None = None  # evidence.snapshot() when it was resolved or marked false positive
    reopens: int = 0
    merged_into: str | None = None


@dataclass
class View:
    """An incident's triage as it stands now."""

    incident_id: str
    state: str = "new"
    assignee: str | None = None
    reopens: int = 0
    suppression_ids: list[str] = field(default_factory=list)
    previous_ids: list[str] = field(default_factory=list)

    @property
    def suppressed(self) -> bool:
        return bool(self.suppression_ids)


@dataclass
class Change:
    """One thing :func:`resolve` found that the store must record."""

    incident_id: str
    action: str  # carried | merged | reopened | tracked
    record: Record
    detail: dict = field(default_factory=dict)


def resolve(incidents: list[dict], findings_by_id: dict[str, dict], records: dict[str, Record],
            suppressions: list[Suppression], now: dt.datetime) -> tuple[dict[str, View], list[Change]]:
    live = {rid: r.finding_ids for rid, r in records.items() if r.merged_into is None}
    traces = lineage.trace(incidents, live)
    previous = lineage.ancestry({rid: r.merged_into for rid, r in records.items() if r.merged_into}, traces)
    views, changes = {}, []
    for inc in incidents:
        iid = inc["incident_id"]
        found = evidence.members(inc, findings_by_id)
        record, carried = _record_of(iid, traces[iid], records)
        if carried:
            changes.append(Change(iid, "carried", record, {"from": traces[iid].inherit}))
        for old in traces[iid].retired:
            merged = dataclasses.replace(records[old], merged_into=iid)
            changes.append(Change(old, "merged", merged, {"into": iid}))
        if record is not None:
            record = _reopen_on_new_evidence(record, inc, found, changes)
            if tuple(sorted(inc.get("finding_ids") or [])) != record.finding_ids:
                record = dataclasses.replace(record, finding_ids=tuple(sorted(inc.get("finding_ids") or [])))
                changes.append(Change(iid, "tracked", record))
        views[iid] = _view(iid, record, found, suppressions, now, previous.get(iid, []))
    return views, _last_per_record(changes)


def _record_of(iid: str, trace: lineage.Trace, records: dict[str, Record]):
    if iid in records:
        return records[iid], False
    if trace.inherit is None:
        return None, False
    return dataclasses.replace(records[trace.inherit], incident_id=iid, merged_into=None), True


def _reopen_on_new_evidence(record: Record, inc: dict, found: list[dict], changes: list[Change]) -> Record:
    if record.state not in CLOSED or record.closed is None:
        return record
    reasons = evidence.grew(evidence.snapshot(inc, found), record.closed)
    if not reasons:
        return record
    reopened = dataclasses.replace(record, state="new", closed=None, reopens=record.reopens + 1)
    changes.append(Change(inc["incident_id"], "reopened", reopened,
                          {"was": record.state, "because": reasons}))
    return reopened


def _view(iid, record, found, suppressions, now, previous) -> View:
    sup = matching(found, suppressions, now)
    if record is None:
        return View(iid, suppression_ids=sup, previous_ids=previous)
    return View(iid, record.state, record.assignee, record.reopens, sup, previous)


def _last_per_record(changes: list[Change]) -> list[Change]:
    """Each change is kept for its history line; the record written is each id's latest."""
    latest: dict[str, Record] = {}
    for c in changes:
        latest[c.incident_id] = c.record
    return [dataclasses.replace(c, record=latest[c.incident_id]) for c in changes]
