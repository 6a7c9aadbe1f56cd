"""Where each page's data comes from, and what a page says when a source is not there.

Every source is another capability's library (detect's store, respond's scope, the lake's status)
or a query over the lake, imported plainly: one package ships them all. A page never fails
because a source has nothing yet (no findings, no catalog) or is broken: it gets an
:class:`Outcome` with ``missing`` set to a sentence for the analyst, and the rest of the page
renders. Errors are reported by class and message only (never with row data).
"""

from __future__ import annotations

import os
import time
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from custodes import lake
from custodes.clikit import note
from custodes.console.posture import posture
from custodes.detect import store
from custodes.detect.posture import key_max_age_days
from custodes.engine import connect
from custodes.errors import CustodesError
from custodes.respond import documents, notify, report
from custodes.respond.audit import audit
from custodes.respond.scope import Selector, accounts_table, write_accounts_csv
from custodes.respond.scope import scope as run_scope
from custodes.workspace import Workspace

if TYPE_CHECKING:
    from custodes.engine import Engine

#: how long a scope result is reused (scope scans the lake; pages are reloaded often)
SCOPE_TTL_S = 60.0
ACCOUNTS_SHOWN = 500


@dataclass(frozen=True)
class Outcome:
    data: Any = None
    missing: str | None = None

    @property
    def ok(self) -> bool:
        return self.missing is None


def _failed(what: str, exc: Exception) -> Outcome:
    if isinstance(exc, CustodesError):
        return Outcome(missing=f"{what}: {exc}")
    note(f"custodes serve: {what} failed: {type(exc).__name__}: {exc}")  # the message may quote a request
    return Outcome(missing=f"{what} failed ({type(exc).__name__}); see the console's stderr")


class Sources:
    def __init__(self, workspace: Workspace, backend: str | None = None):
        self.workspace = workspace
        self.backend = backend
        self._scope_cache: dict[tuple, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    # Engine: one per call, because a DuckDB connection is not to be shared across threads.
    def engine(self):
        return connect(self.workspace, self.backend)

    # Detections ---------------------------------------------------------------------------
    def incidents(self) -> Outcome:
        return self._from_store(store.load_incidents, "incidents")

    def findings(self) -> Outcome:
        return self._from_store(store.load_findings, "findings")

    def _from_store(self, loader, what: str) -> Outcome:
        try:
            return Outcome(list(loader(self.workspace)))
        except Exception as exc:  # noqa: BLE001 - a broken source must not take the page down
            return _failed(f"loading {what}", exc)

    def incident(self, incident_id: str) -> Outcome:
        found = self.incidents()
        if not found.ok:
            return found
        for incident in found.data:
            if incident.get("incident_id") == incident_id:
                return Outcome(incident)
        return Outcome(missing=None, data=None)

    # Blast radius -------------------------------------------------------------------------
    def scope_incident(self, incident_id: str, with_accounts: bool = False) -> Outcome:
        return self.scope("incident", incident_id, with_accounts)

    def scope(self, kind: str, value: str, with_accounts: bool = False) -> Outcome:
        """The CONTRACT.md §3 scope summary, and with ``with_accounts`` the first
        :data:`ACCOUNTS_SHOWN` affected accounts (the accounts CSV's columns). Only what a page
        shows is kept in memory: a breach of millions of accounts is exported, not held."""
        key = (kind, value, with_accounts, self._lake_stamp())
        with self._lock:
            hit = self._scope_cache.get(key)
            if hit and time.monotonic() - hit[0] < SCOPE_TTL_S:
                return hit[1]
        outcome = self._compute_scope(kind, value, with_accounts)
        with self._lock:
            if len(self._scope_cache) > 64:
                self._scope_cache.clear()
            self._scope_cache[key] = (time.monotonic(), outcome)
        return outcome

    def _run_scope(self, engine: Engine, kind: str, value: str):
        return run_scope(engine, self.workspace, Selector(kind, value))

    def _compute_scope(self, kind: str, value: str, with_accounts: bool) -> Outcome:
        try:
            with self.engine() as engine:
                result = self._run_scope(engine, kind, value)
                accounts = None
                if with_accounts:
                    table = accounts_table(engine, result)
                    accounts = table.slice(0, ACCOUNTS_SHOWN).to_pylist()
                return Outcome({"summary": result.to_json(), "accounts": accounts,
                                "notes": list(result.notes)})
        except Exception as exc:  # noqa: BLE001
            return _failed("blast radius", exc)

    def export_accounts(self, kind: str, value: str, path) -> Outcome:
        """Write the whole accounts CSV (CONTRACT.md §3) to ``path`` (0600); the row count."""
        try:
            with self.engine() as engine:
                result = self._run_scope(engine, kind, value)
                return Outcome(write_accounts_csv(engine, result, path))
        except Exception as exc:  # noqa: BLE001
            return _failed("accounts export", exc)

    def export_notification(self, kind: str, value: str, path, by: str) -> Outcome:
        """Write respond's notification list (accounts joined with their contacts, 0600) to
        ``path``; respond records the export in its own audit log too. The row count."""
        try:
            with self.engine() as engine:
                result = self._run_scope(engine, kind, value)
                entry = notify.export_notification_list(engine, self.workspace, result, path, by=by)
                return Outcome(int(entry.get("rows", 0)) if isinstance(entry, dict) else None)
        except Exception as exc:  # noqa: BLE001
            return _failed("notification list", exc)

    def document(self, incident_id: str, doc: str, lang: str, fmt: str, discovered_at=None) -> Outcome:
        """One breach document of respond (docs/respond.md) as bytes: built from the lake now,
        written nowhere but the response. Respond records the export in its own audit log."""
        try:
            lang = documents.check(doc, lang, fmt)
            with self.engine() as engine:
                built = report.build(engine, self.workspace, incident_id, discovered_at=discovered_at,
                                     people=doc == "notice")
            data = documents.render(built, doc, lang, fmt)
            audit(self.workspace, "report", by="console", incident_id=incident_id, document=doc, lang=lang,
                  format=fmt, path=None, draft=bool(built.missing))
            return Outcome(data)
        except Exception as exc:  # noqa: BLE001
            return _failed("breach document", exc)

    def _lake_stamp(self) -> tuple:
        """Changes when anything is ingested or detected, so cached scopes go stale with the data."""
        # Directory mtimes change when a file is added, renamed or removed in them: walking the
        # directories (a few hundred) is enough, no need to stat every file.
        stamps = []
        for root in (self.workspace.lake, self.workspace.detect):
            for path, _dirs, _files in os.walk(root):
                stamps.append(os.stat(path).st_mtime_ns)
        return (len(stamps), max(stamps, default=0))

    # Lake and posture ---------------------------------------------------------------------
    def lake_status(self) -> Outcome:
        try:
            return Outcome(lake.status(self.workspace))
        except Exception as exc:  # noqa: BLE001
            return _failed("lake status", exc)

    def verify_lake(self) -> Outcome:
        """Hash every sealed partition now (``custodes verify``): the report as a dict."""
        try:
            return Outcome(lake.verify(self.workspace).to_dict())
        except Exception as exc:  # noqa: BLE001
            return _failed("seal verification", exc)

    def posture(self) -> Outcome:
        try:
            max_age = key_max_age_days(self.workspace)
            with self.engine() as engine:
                return Outcome(posture(engine, max_age))
        except Exception as exc:  # noqa: BLE001
            return _failed("credential posture", exc)
