"""``sqlite:///relative/path`` or ``sqlite:////absolute/path``: one file, shared by the processes
of one machine (a gateway and ``custodes guard revoke``). Used in WAL mode so readers do not wait
for a writer.

The file is created only when asked (``create=True``: ``ledger load``, ``revoke --create``): a
mistyped path must not become an empty ledger that every revocation then silently goes to. It
is created 0600; an existing one (and its ``-wal``/``-shm`` companions) must belong to this user
and is tightened to 0600, since whoever can write it can add tokens to it.

Records expire like every backend's: a check never takes one past ``exp`` + ``base.RETAIN``,
and writes delete them (at most once a minute, through an index on exp).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from custodes.errors import CustodesError
from custodes.guard.ledger.base import RETAIN, Issued, IssuedRow, Ledger, LedgerUnavailable, decide, live_records
from custodes.guard.private import create_private_file, make_missing_directories, private_existing_file

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS issued (
    jti TEXT PRIMARY KEY, sub TEXT NOT NULL, kid TEXT NOT NULL, iat REAL NOT NULL, exp REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS issued_exp ON issued (exp);
CREATE TABLE IF NOT EXISTS revoked (
    kind TEXT NOT NULL, value TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (kind, value)
) WITHOUT ROWID;
"""
# One statement answers the verifier's whole question, so a check is one call into SQLite.
_CHECK = """
SELECT i.sub, i.kid, i.iat, i.exp,
       EXISTS (SELECT 1 FROM revoked WHERE kind = 'jti' AND value = ?1),
       (SELECT at FROM revoked WHERE kind = 'sub' AND value = ?2),
       EXISTS (SELECT 1 FROM revoked WHERE kind = 'kid' AND value = ?3)
FROM (SELECT 1) LEFT JOIN issued i ON i.jti = ?1
"""
_COMPANIONS = ("-wal", "-shm", "-journal")
_PURGE_EVERY = 60.0  # seconds between deletions of expired records by one handle


class SQLiteLedger(Ledger):
    def __init__(self, path: str | Path, url: str | None = None, create: bool = True) -> None:
        super().__init__()
        self.path = Path(path)
        self.url = url or f"sqlite:///{path}"
        self._lock = threading.Lock()
        self._purged = 0.0
        if not private_existing_file(self.path, "ledger"):
            if not create:
                raise CustodesError(f"{self.url}: no ledger there (`custodes guard ledger load` "
                                    "creates one; `revoke --create` makes an empty one)")
            try:
                make_missing_directories(self.path.parent)
            except OSError as exc:
                raise CustodesError(f"cannot create the ledger {self.url}: {exc.strerror}") from None
            create_private_file(self.path, "ledger")  # 0600 before SQLite writes a byte
        for suffix in _COMPANIONS:
            private_existing_file(self.path.with_name(self.path.name + suffix), "ledger's journal")
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=5.0,
                                       isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise CustodesError(f"cannot open the ledger {self.url}: {exc}") from None

    def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            with self._lock:
                return fn(self._db)
        except sqlite3.Error as exc:
            raise LedgerUnavailable(f"{self.url}: {exc}") from None

    def record_many(self, tokens: Iterable[IssuedRow]) -> int:
        now = time.time()
        rows = list(live_records(tokens, now))
        purge = now - self._purged >= _PURGE_EVERY

        def write(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT OR REPLACE INTO issued VALUES (?, ?, ?, ?, ?)", rows)
                if purge:
                    db.execute("DELETE FROM issued WHERE exp <= ?", (now - RETAIN,))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        self._run(write)
        if purge:
            self._purged = now
        return len(rows)

    def _revoke(self, jti: str | None, sub: str | None, kid: str | None, at: float) -> None:
        rows = [(kind, value, at) for kind, value in (("jti", jti), ("sub", sub), ("kid", kid))
                if value is not None]
        # A later revocation of a subject moves its cut-off forward; never backward.
        self._run(lambda db: db.executemany(
            "INSERT INTO revoked VALUES (?, ?, ?) ON CONFLICT (kind, value) "
            "DO UPDATE SET at = max(at, excluded.at)", rows))

    def _revocations(self, jti: str | None, sub: str | None, kid: str | None) -> tuple[bool, float | None, bool]:
        *_, j, s, k = self._run(lambda db: db.execute(_CHECK, (jti, sub, kid)).fetchone())
        return bool(j), s, bool(k)

    def check(self, jti: str, sub: str, kid: str, iat: float, exp: float) -> str | None:
        isub, ikid, iiat, iexp, j, s, k = self._run(
            lambda db: db.execute(_CHECK, (jti, sub, kid)).fetchone())
        if isub is not None and time.time() >= iexp + RETAIN:  # expired, not yet deleted
            isub = None
        return decide(None if isub is None else (isub, ikid, iiat, iexp), bool(j), s, bool(k),
                      sub, kid, iat, exp)

    def issued(self, jti: str) -> Issued | None:
        row = self._run(lambda db: db.execute(
            "SELECT jti, sub, kid, iat, exp FROM issued WHERE jti = ? AND exp > ?",
            (jti, time.time() - RETAIN)).fetchone())
        return None if row is None else Issued(*row)

    def close(self) -> None:
        try:
            self._db.close()
        except sqlite3.Error:
            pass

    def __len__(self) -> int:
        return int(self._run(lambda db: db.execute("SELECT count(*) FROM issued").fetchone()[0]))
