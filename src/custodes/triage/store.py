"""Triage on disk: ``WORKSPACE/triage/triage.db`` (SQLite, WAL, 0600).

- ``records``: per incident id, its state, assignee, the finding ids it held when last seen,
  the evidence when it was closed, how often it reopened, and the id it now lives on as.
- ``history``: every action, append-only: when, who (as given, and the OS account that ran
  the command), through what (cli, console, custodes itself), what, and notes.
- ``suppressions``: rules and entity values silenced, with reason, author and expiry.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json

from custodes.sqlitedb import Store, transaction
from custodes.timefmt import iso, parse_iso
from custodes.triage.model import Record
from custodes.triage.suppressions import Suppression
from custodes.workspace import Workspace

VERSION = 1
SCHEMA = """
CREATE TABLE records (
    incident_id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('new', 'acknowledged', 'resolved', 'false_positive')),
    assignee TEXT,
    finding_ids TEXT NOT NULL,
    closed TEXT,
    reopens INTEGER NOT NULL DEFAULT 0,
    merged_into TEXT
);
CREATE TABLE history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL,
    at TEXT NOT NULL,
    by TEXT NOT NULL,
    os_user TEXT,
    via TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX history_incident ON history (incident_id, seq);
CREATE TABLE suppressions (
    suppression_id TEXT PRIMARY KEY,
    rule_id TEXT,
    entity_key TEXT,
    entity_value TEXT,
    reason TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    os_user TEXT,
    via TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    lifted_at TEXT,
    lifted_by TEXT,
    CHECK ((rule_id IS NULL) <> (entity_value IS NULL))
)
"""


def path_of(workspace: Workspace):
    return workspace.root / "triage" / "triage.db"


def os_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def _time(text: str | None) -> dt.datetime | None:
    return parse_iso(text, "triage.db") if text else None


def stamp(when: dt.datetime) -> str:
    """Wall-clock times to the microsecond (an action and its reopening may share a second)."""
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class TriageStore(Store):
    SCHEMA, VERSION = SCHEMA, VERSION
    path_of = staticmethod(path_of)

    # Reading --------------------------------------------------------------------------------
    def records(self) -> dict[str, Record]:
        rows = self.db.execute("SELECT * FROM records").fetchall()
        return {r["incident_id"]: Record(
            r["incident_id"], r["state"], r["assignee"], tuple(json.loads(r["finding_ids"])),
            json.loads(r["closed"]) if r["closed"] else None, r["reopens"], r["merged_into"],
        ) for r in rows}

    def suppressions(self) -> list[Suppression]:
        rows = self.db.execute("SELECT * FROM suppressions ORDER BY created_at, suppression_id").fetchall()
        return [Suppression(
            r["suppression_id"], r["rule_id"], r["entity_key"], r["entity_value"], r["reason"],
            _time(r["created_at"]), r["created_by"], _time(r["expires_at"]), _time(r["lifted_at"]),
            r["lifted_by"],
        ) for r in rows]

    def history(self, incident_ids: list[str]) -> list[dict]:
        marks = ",".join("?" * len(incident_ids))
        rows = self.db.execute(f"SELECT * FROM history WHERE incident_id IN ({marks}) ORDER BY seq",
                               incident_ids).fetchall()
        return [{"at": r["at"], "incident_id": r["incident_id"], "by": r["by"], "os_user": r["os_user"],
                 "via": r["via"], "action": r["action"], **json.loads(r["detail"])} for r in rows]

    # Writing (inside transaction()) -----------------------------------------------------------
    def transaction(self):
        return transaction(self.db)

    def put(self, record: Record) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?, ?, ?)",
            (record.incident_id, record.state, record.assignee, json.dumps(list(record.finding_ids)),
             json.dumps(record.closed) if record.closed is not None else None, record.reopens,
             record.merged_into))

    def log(self, incident_id: str, action: str, *, by: str, via: str, at: dt.datetime,
            detail: dict | None = None, os_account: str | None = None) -> None:
        self.db.execute(
            "INSERT INTO history (incident_id, at, by, os_user, via, action, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (incident_id, stamp(at), by, os_account, via, action, json.dumps(detail or {}, ensure_ascii=False)))

    def add_suppression(self, s: Suppression, *, via: str, os_account: str | None) -> None:
        self.db.execute(
            "INSERT INTO suppressions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
            (s.suppression_id, s.rule_id, s.entity_key, s.entity_value, s.reason, stamp(s.created_at),
             s.created_by, os_account, via, iso(s.expires_at)))

    def lift_suppression(self, suppression_id: str, *, by: str, at: dt.datetime) -> bool:
        cur = self.db.execute(
            "UPDATE suppressions SET lifted_at = ?, lifted_by = ? WHERE suppression_id = ? AND lifted_at IS NULL",
            (stamp(at), by, suppression_id))
        return cur.rowcount == 1
