"""The outbox: ``WORKSPACE/alerts/outbox.db`` (SQLite, WAL, 0600).

- ``alerts``: every alert enqueued, its exact bytes (what each sink sends and the webhook
  signs), never deleted;
- ``deliveries``: one row per (alert, sink): pending or delivered, attempts, when the next one
  is due, the last error (in words that carry no secret);
- ``memory``: per incident id, what was last alerted (events.Memory);
- ``tallies``: per sink, deliveries made and attempts failed, for the metrics (monotonic).

New alerts, their deliveries and the memory that records them are written in one transaction:
a process killed at any moment leaves either all of them or none, so an alert is never
forgotten half-made, and the next cycle works out the same alert again (same ``alert_id``).
A delivery is marked after the sink took it: a kill in between sends it once more.

``synchronous=NORMAL``: a commit survives a killed process; a power cut may undo the last few,
which is safe here by the same design: an undone enqueue undoes its memory too, so the alert
is worked out again (same id), and an undone delivery mark sends it once more. It spares an
fsync per delivery (measured in BENCHMARKS.md).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from custodes.alerts.events import Memory
from custodes.sqlitedb import Store, transaction
from custodes.timefmt import UTC, iso
from custodes.workspace import Workspace

VERSION = 1
SCHEMA = """
CREATE TABLE alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    incident_id TEXT,
    event TEXT NOT NULL,
    severity TEXT,
    body BLOB NOT NULL
);
CREATE TABLE deliveries (
    alert_id TEXT NOT NULL REFERENCES alerts (alert_id),
    sink TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    last_at REAL,
    delivered_at REAL,
    last_error TEXT,
    PRIMARY KEY (alert_id, sink)
);
CREATE INDEX deliveries_due ON deliveries (state, next_at);
CREATE TABLE memory (
    incident_id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    merged_into TEXT
);
CREATE TABLE tallies (
    sink TEXT NOT NULL,
    outcome TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (sink, outcome)
)
"""


@dataclass(frozen=True)
class Due:
    seq: int
    alert_id: str
    sink: str
    attempts: int
    body: bytes


def path_of(workspace: Workspace):
    return workspace.root / "alerts" / "outbox.db"


class Outbox(Store):
    SCHEMA, VERSION, POWER_SAFE = SCHEMA, VERSION, False
    path_of = staticmethod(path_of)

    # What was alerted -------------------------------------------------------------------------
    def memories(self) -> dict[str, Memory]:
        out = {}
        for row in self.db.execute("SELECT incident_id, body, merged_into FROM memory"):
            data = json.loads(row["body"])
            data["finding_ids"] = tuple(data["finding_ids"])
            out[row["incident_id"]] = Memory(**data, merged_into=row["merged_into"])
        return out

    def transaction(self):
        """A write transaction: reading the memory, planning and enqueueing inside one means
        two processes never both act on the same memory."""
        return transaction(self.db)

    def enqueue(self, alerts: list[tuple[dict, bytes, list[str]]], memories: list[Memory],
                now: float) -> list[str]:
        """Write new alerts (each with its bytes and the sinks it goes to) and the memory that
        records them; call inside :meth:`transaction`, so that all of it or none is written.
        Returns the ids that were new (a repeat is ignored)."""
        fresh = []
        for alert, body, sinks in alerts:
            cur = self.db.execute(
                "INSERT OR IGNORE INTO alerts (alert_id, created_at, incident_id, event, severity, body) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (alert["alert_id"], now, alert.get("incident_id"), alert["event"], alert.get("severity"), body))
            if cur.rowcount:
                fresh.append(alert["alert_id"])
            self.db.executemany(
                "INSERT OR IGNORE INTO deliveries (alert_id, sink, state, next_at) VALUES (?, ?, 'pending', ?)",
                [(alert["alert_id"], sink, now) for sink in sinks])
        for m in memories:
            data = {k: v for k, v in m.__dict__.items() if k != "merged_into"}
            data["finding_ids"] = list(m.finding_ids)
            self.db.execute("INSERT OR REPLACE INTO memory VALUES (?, ?, ?)",
                            (m.incident_id, json.dumps(data), m.merged_into))
        return fresh

    # Delivering ------------------------------------------------------------------------------
    def due(self, now: float) -> list[Due]:
        rows = self.db.execute(
            "SELECT a.seq, d.alert_id, d.sink, d.attempts, a.body FROM deliveries d "
            "JOIN alerts a USING (alert_id) WHERE d.state = 'pending' AND d.next_at <= ? ORDER BY a.seq, d.sink",
            (now,)).fetchall()
        return [Due(r["seq"], r["alert_id"], r["sink"], r["attempts"], bytes(r["body"])) for r in rows]

    def delivered(self, alert_id: str, sink: str, now: float) -> None:
        with transaction(self.db):
            self.db.execute(
                "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1, last_at = ?, "
                "delivered_at = ?, last_error = NULL WHERE alert_id = ? AND sink = ?", (now, now, alert_id, sink))
            self._tally(sink, "delivered")

    def failed(self, alert_id: str, sink: str, now: float, error: str, next_at: float) -> None:
        with transaction(self.db):
            self.db.execute(
                "UPDATE deliveries SET attempts = attempts + 1, last_at = ?, next_at = ?, last_error = ? "
                "WHERE alert_id = ? AND sink = ?", (now, next_at, error[:500], alert_id, sink))
            self._tally(sink, "failed")

    def _tally(self, sink: str, outcome: str) -> None:
        self.db.execute("INSERT INTO tallies VALUES (?, ?, 1) ON CONFLICT (sink, outcome) DO UPDATE SET n = n + 1",
                        (sink, outcome))

    # Reading ---------------------------------------------------------------------------------
    def listing(self, limit: int = 50, pending_only: bool = False) -> list[dict]:
        """The newest alerts first, each with its deliveries."""
        where = ("WHERE EXISTS (SELECT 1 FROM deliveries d WHERE d.alert_id = a.alert_id AND d.state = 'pending')"
                 if pending_only else "")
        alerts = self.db.execute(
            f"SELECT seq, alert_id, created_at, incident_id, event, severity, body FROM alerts a {where} "
            "ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        out = []
        for a in alerts:
            body = json.loads(a["body"])
            deliveries = self.db.execute(
                "SELECT sink, state, attempts, next_at, last_at, delivered_at, last_error FROM deliveries "
                "WHERE alert_id = ? ORDER BY sink", (a["alert_id"],)).fetchall()
            out.append({
                "alert_id": a["alert_id"], "event": a["event"], "incident_id": a["incident_id"],
                "severity": a["severity"], "title": body.get("title"), "enqueued_at": _when(a["created_at"]),
                "deliveries": [{
                    "sink": d["sink"], "state": d["state"], "attempts": d["attempts"],
                    "last_attempt_at": _when(d["last_at"]), "delivered_at": _when(d["delivered_at"]),
                    "next_attempt_at": _when(d["next_at"]) if d["state"] == "pending" else None,
                    "last_error": d["last_error"],
                } for d in deliveries],
            })
        return out

    def depth(self) -> dict[str, int]:
        """Per sink, deliveries not yet made."""
        rows = self.db.execute("SELECT sink, COUNT(*) AS n FROM deliveries WHERE state = 'pending' GROUP BY sink")
        return {r["sink"]: r["n"] for r in rows}

    def oldest_pending(self) -> float | None:
        row = self.db.execute("SELECT MIN(a.created_at) AS t FROM deliveries d JOIN alerts a USING (alert_id) "
                              "WHERE d.state = 'pending'").fetchone()
        return row["t"]

    def tallies(self) -> dict[tuple[str, str], int]:
        return {(r["sink"], r["outcome"]): r["n"] for r in self.db.execute("SELECT * FROM tallies")}

    def events(self) -> dict[str, int]:
        return {r["event"]: r["n"] for r in self.db.execute("SELECT event, COUNT(*) AS n FROM alerts GROUP BY event")}


def _when(epoch: float | None) -> str | None:
    return None if epoch is None else iso(dt.datetime.fromtimestamp(epoch, UTC))
