"""Triage as a library: read each incident's state, act on it, silence and lift.

Every action records who and when: ``by`` (as given: the console's signed-in user, or the
CLI's ``--by``, default the OS account), the OS account that ran it, and through what
(``cli``, ``console``, or ``custodes`` itself when new evidence reopens an incident). CLI
actions also go to the console's audit trail when the workspace has a console; the console
records its own through its audit helper.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import secrets

from custodes.detect.rule import ENTITY_KEYS, EXTRA_ENTITY_KEYS
from custodes.errors import CustodesError, UsageError
from custodes.triage import evidence
from custodes.triage.model import CLOSED, Change, Record, View, resolve
from custodes.triage.store import TriageStore, os_user
from custodes.triage.suppressions import Suppression
from custodes.workspace import Workspace

UTC = dt.timezone.utc
SYSTEM = "custodes"
ACTIONS = ("ack", "assign", "resolve", "false_positive", "reopen", "note")
#: a suppression must end: the longest one allowed, so that silence is reviewed
MAX_SUPPRESSION = dt.timedelta(days=90)
RULE_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,127}$")
ENTITY_NAMES = ENTITY_KEYS + EXTRA_ENTITY_KEYS


def _wall(now: dt.datetime | None) -> dt.datetime:
    return (now or dt.datetime.now(UTC)).astimezone(UTC)


def _detections(workspace: Workspace, incidents, findings):
    from custodes.detect.store import load_findings_raw, load_incidents_raw

    incidents = load_incidents_raw(workspace) if incidents is None else incidents
    findings = load_findings_raw(workspace) if findings is None else findings
    return incidents, {f["finding_id"]: f for f in findings}


# Reading --------------------------------------------------------------------------------------
def views(workspace: Workspace, incidents=None, findings=None, now=None) -> dict[str, View]:
    """Each current incident's triage as it stands (nothing is written)."""
    incidents, by_id = _detections(workspace, incidents, findings)
    store = TriageStore.open_existing(workspace)
    if store is None:
        return resolve(incidents, by_id, {}, [], _wall(now))[0]
    with store:
        return resolve(incidents, by_id, store.records(), store.suppressions(), _wall(now))[0]


def annotate(workspace: Workspace, incidents: list[dict], findings=None, now=None) -> list[dict]:
    """``incidents`` with ``state``, ``assignee``, ``suppressed`` and ``previous_incident_ids``."""
    seen = views(workspace, incidents, findings, now)
    for inc in incidents:
        v = seen[inc["incident_id"]]
        inc.update(state=v.state, assignee=v.assignee, suppressed=v.suppressed,
                   previous_incident_ids=v.previous_ids)
    return incidents


# Keeping up with detection ----------------------------------------------------------------------
def sync(workspace: Workspace, incidents=None, findings=None, now=None) -> tuple[dict[str, View], list[str]]:
    """Record what detection changed: triage carried to incidents whose id changed, closed
    incidents with new evidence reopened. Returns the views and the ids reopened now."""
    incidents, by_id = _detections(workspace, incidents, findings)
    at = _wall(now)
    with TriageStore.open(workspace) as store, store.transaction():
        found, changes = resolve(incidents, by_id, store.records(), store.suppressions(), at)
        _write(store, changes, at)
    return found, [c.incident_id for c in changes if c.action == "reopened"]


def _write(store: TriageStore, changes: list[Change], at: dt.datetime) -> None:
    for c in changes:
        store.put(c.record)
        if c.action != "tracked":
            store.log(c.incident_id, c.action, by=SYSTEM, via=SYSTEM, at=at, detail=c.detail)


# Acting ---------------------------------------------------------------------------------------
def act(workspace: Workspace, incident_id: str, action: str, *, by: str | None = None, via: str = "cli",
        assignee: str | None = None, note: str | None = None, now=None) -> dict:
    """Apply one triage action to an incident (an id it had before is followed to the
    incident it is now). Returns ``{"incident_id", "state", "assignee", "followed_from"}``."""
    if action not in ACTIONS:
        raise UsageError(f"unknown triage action {action!r}: expected one of {', '.join(ACTIONS)}")
    by = clean(by or os_user() or "unknown", "--by", 128)
    note = clean(note, "the note", 4000, multiline=True) if note is not None else None
    if action == "note" and not note:
        raise UsageError("a note needs text")
    if assignee is not None:
        assignee = clean(assignee, "the assignee", 128) or None
    incidents, by_id = _detections(workspace, None, None)
    at = _wall(now)
    with TriageStore.open(workspace) as store, store.transaction():
        records = store.records()
        found, changes = resolve(incidents, by_id, records, store.suppressions(), at)
        _write(store, changes, at)
        target = _target(incident_id, found)
        incident = next(i for i in incidents if i["incident_id"] == target)
        latest = {c.incident_id: c.record for c in changes}
        record = latest.get(target) or records.get(target) or Record(
            target, finding_ids=tuple(sorted(incident.get("finding_ids") or [])))
        record = _apply(record, action, assignee, incident, by_id)
        store.put(record)
        detail = {k: v for k, v in (("assignee", assignee), ("note", note)) if v is not None}
        if target != incident_id:
            detail["asked_for"] = incident_id
        store.log(target, action, by=by, via=via, at=at, detail=detail, os_account=os_user())
    audit_cli(workspace, via, by, f"triage.{action}", target,
              {k: v for k, v in detail.items() if k != "note"} | ({"note_chars": len(note)} if note else {}))
    return {"incident_id": target, "state": record.state, "assignee": record.assignee,
            "followed_from": incident_id if target != incident_id else None}


def _target(incident_id: str, found: dict[str, View]) -> str:
    from custodes.detect.store import unknown_incident

    if incident_id in found:
        return incident_id
    for iid, v in found.items():
        if incident_id in v.previous_ids:
            return iid
    raise unknown_incident(incident_id, bool(found))


def _apply(record: Record, action: str, assignee, incident: dict, by_id: dict) -> Record:
    if action == "ack":
        return dataclasses.replace(record, state="acknowledged")
    if action == "assign":
        return dataclasses.replace(record, assignee=assignee)
    if action in ("resolve", "false_positive"):
        snap = evidence.snapshot(incident, evidence.members(incident, by_id))
        return dataclasses.replace(record, state="resolved" if action == "resolve" else "false_positive",
                                   closed=snap)
    if action == "reopen":
        if record.state not in CLOSED:
            return record
        return dataclasses.replace(record, state="new", closed=None)
    return record  # a note changes nothing but the history


def history(workspace: Workspace, incident_id: str) -> list[dict]:
    """Every action on this incident and on the ids it had before, oldest first."""
    found = views(workspace)
    target = _target(incident_id, found)
    store = TriageStore.open_existing(workspace)
    if store is None:
        return []
    with store:
        return store.history([target, *found[target].previous_ids])


# Suppressions ---------------------------------------------------------------------------------
def suppress(workspace: Workspace, *, rule: str | None = None, entity: tuple[str, str] | None = None,
             reason: str, expires_at: dt.datetime, by: str | None = None, via: str = "cli",
             now=None) -> Suppression:
    """Silence a rule, or an entity value, until ``expires_at`` (at most 90 days ahead)."""
    at = _wall(now)
    if (rule is None) == (entity is None):
        raise UsageError("suppress one rule or one entity value (KEY=VALUE), not both, not neither")
    if rule is not None and not RULE_ID.match(rule):
        raise UsageError(f"rule id {rule!r}: expected a rule id such as token.unissued")
    if entity is not None:
        key, value = entity
        if key not in ENTITY_NAMES:
            raise UsageError(f"entity {key!r}: expected one of {', '.join(ENTITY_NAMES)}")
        entity = (key, clean(value, f"the {key} value", 256))
        if not entity[1]:
            raise UsageError(f"the {key} value is empty")
    reason = clean(reason, "the reason", 1000, multiline=True)
    if not reason:
        raise UsageError("a suppression needs a reason")
    expires_at = expires_at.astimezone(UTC)
    if expires_at <= at:
        raise UsageError(f"the expiry {expires_at.isoformat()} is not in the future")
    if expires_at > at + MAX_SUPPRESSION:
        raise UsageError(f"a suppression lasts at most {MAX_SUPPRESSION.days} days")
    by = clean(by or os_user() or "unknown", "--by", 128)
    s = Suppression(f"s-{secrets.token_hex(5)}", rule, entity and entity[0], entity and entity[1],
                    reason, at, by, expires_at)
    with TriageStore.open(workspace) as store, store.transaction():
        store.add_suppression(s, via=via, os_account=os_user())
    audit_cli(workspace, via, by, "triage.suppress", s.suppression_id,
              {"what": s.what, "expires_at": expires_at.isoformat()})
    return s


def lift(workspace: Workspace, suppression_id: str, *, by: str | None = None, via: str = "cli", now=None) -> None:
    by = clean(by or os_user() or "unknown", "--by", 128)
    with TriageStore.open(workspace) as store, store.transaction():
        if not store.lift_suppression(suppression_id, by=by, at=_wall(now)):
            raise CustodesError(f"no active suppression {suppression_id!r} in {workspace.root}")
    audit_cli(workspace, via, by, "triage.lift", suppression_id, {})


def suppressions(workspace: Workspace) -> list[Suppression]:
    store = TriageStore.open_existing(workspace)
    if store is None:
        return []
    with store:
        return store.suppressions()


# Shared ---------------------------------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def clean(text: str | None, what: str, limit: int, multiline: bool = False) -> str:
    """Text a person typed, refused when it holds control characters (a terminal escape, a
    bidi override, a line break where one line is expected) or is too long."""
    text = (text or "").strip()
    bad = _CONTROL.search(text) or (not multiline and ("\n" in text or "\t" in text))
    if bad:
        raise UsageError(f"{what} holds a control character or line break: not accepted")
    if len(text) > limit:
        raise UsageError(f"{what} is longer than {limit} characters")
    return text


def audit_cli(workspace: Workspace, via: str, by: str, action: str, target: str, detail: dict) -> None:
    """A CLI action also goes to the console's audit trail, where the workspace has one."""
    if via != "cli":
        return
    trail = workspace.root / "console" / "audit.jsonl"
    if not trail.parent.is_dir():
        return
    from custodes.console.audit import AuditTrail

    AuditTrail(trail, workspace).record(user=f"cli:{by}", role=None, action=action, target=target,
                             detail={**detail, "os_user": os_user()}, client="cli")
