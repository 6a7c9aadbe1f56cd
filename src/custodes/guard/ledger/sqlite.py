"""``sqlite:///relative/path`` or ``sqlite:////absolute/path``: one file, shared by the processes
of one machine (a gateway and ``custodes guard revoke``). The file is created 0600 and used in
WAL mode so readers do not wait for a writer."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

from custodes.errors import CustodesError
from custodes.guard.ledger.base import Issued, Ledger, LedgerUnavailable, decide
from custodes.workspace import private_dir, private_open

_SCHEMA = """
CREATE TABLE IF NOT EXISTS issued (
    jti TEXT PRIMARY KEY, sub TEXT NOT NULL, kid TEXT NOT NULL, iat REAL NOT NULL, exp REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS revoked (
    kind TEXT NOT NULL, value TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (kind, value)
) WITHOUT ROWID;
"""
# One statement answers the verifier's whole question, so a check is one call into SQLite.
_CHECK = """
SELECT i.sub, i.kid, i.iat,
       EXISTS (SELECT 1 FROM revoked WHERE kind = 'jti' AND value = ?1),
       (SELECT at FROM revoked WHERE kind = 'sub' AND value = ?2),
       EXISTS (SELECT 1 FROM revoked WHERE kind = 'kid' AND value = ?3)
FROM (SELECT 1) LEFT JOIN issued i ON i.jti = ?1
"""


class SQLiteLedger(Ledger):
    def __init__(self, path: str | Path, url: str | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self.url = url or f"sqlite:///{path}"
        self._lock = threading.Lock()
        try:
            if not self.path.exists():
                private_dir(self.path.parent)
                private_open(self.path, "wb").close()  # 0600 before SQLite writes a byte
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=5.0,
                                       isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise CustodesError(f"cannot open the ledger {self.url}: {exc}") from None

    def _run(self, fn):
        try:
            with self._lock:
                return fn(self._db)
        except sqlite3.Error as exc:
            raise LedgerUnavailable(f"{self.url}: {exc}") from None

    def record_many(self, tokens: Iterable[Issued]) -> int:
        rows = tokens if isinstance(tokens, list) else list(tokens)  # (jti, sub, kid, iat, exp)

        def write(db):
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT OR REPLACE INTO issued VALUES (?, ?, ?, ?, ?)", rows)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        self._run(write)
        return len(rows)

    def _revoke(self, jti, sub, kid, at: float) -> None:
        rows = [(kind, value, at) for kind, value in (("jti", jti), ("sub", sub), ("kid", kid))
                if value is not None]
        # A later revocation of a subject moves its cut-off forward; never backward.
        self._run(lambda db: db.executemany(
            "INSERT INTO revoked VALUES (?, ?, ?) ON CONFLICT (kind, value) "
            "DO UPDATE SET at = max(at, excluded.at)", rows))

    def _revocations(self, jti, sub, kid):
        def read(db):
            _, _, _, j, s, k = db.execute(_CHECK, (jti, sub, kid)).fetchone()
            return bool(j), s, bool(k)
        return self._run(read)

    def check(self, jti: str, sub: str, kid: str) -> str | None:
        isub, ikid, iat, j, s, k = self._run(lambda db: db.execute(_CHECK, (jti, sub, kid)).fetchone())
        return decide(None if isub is None else (isub, ikid, iat), bool(j), s, bool(k), sub, kid)

    def issued(self, jti: str) -> Issued | None:
        row = self._run(lambda db: db.execute(
            "SELECT jti, sub, kid, iat, exp FROM issued WHERE jti = ?", (jti,)).fetchone())
        return None if row is None else Issued(*row)

    def close(self) -> None:
        try:
            self._db.close()
        except sqlite3.Error:
            pass

    def __len__(self) -> int:
        return self._run(lambda db: db.execute("SELECT count(*) FROM issued").fetchone()[0])
