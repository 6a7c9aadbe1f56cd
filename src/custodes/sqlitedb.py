"""Small SQLite stores in the workspace (the alert outbox, triage): private, durable, shared.

A database file is created 0600 before SQLite writes a byte (its ``-wal`` and ``-shm`` files
take the same mode), in a 0700 directory. WAL lets the console, the CLI and ``watch`` read
while one of them writes; a committed transaction survives a killed process, and with
``synchronous=FULL`` (``power_safe``) a power cut too, at an fsync per commit; writers take the
lock up front (``BEGIN IMMEDIATE``) so two writers queue instead of failing half-way.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

from custodes.errors import CustodesError
from custodes.workspace import Workspace, private_dir, private_open

BUSY_TIMEOUT_MS = 15_000


def connect(path: Path, schema: str, version: int, power_safe: bool = True) -> sqlite3.Connection:
    """Open (creating when absent) the database at ``path`` with ``schema`` applied.

    A file written by a newer custodes (a higher ``user_version``) is refused rather than
    misread."""
    try:
        if not path.exists():
            private_dir(path.parent)
            private_open(path, "ab").close()  # append: a process that created it first keeps its bytes
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                             check_same_thread=False)
        db.row_factory = sqlite3.Row
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        _wal(db)
        db.execute(f"PRAGMA synchronous={'FULL' if power_safe else 'NORMAL'}")
        found = db.execute("PRAGMA user_version").fetchone()[0]
        if found > version:
            db.close()
            raise CustodesError(f"{path}: written by a newer custodes (format {found}, this one reads {version})")
        if found < version:
            with transaction(db):
                # Read again under the write lock: two processes opening a new file both saw 0,
                # and the one that waited must not create the tables a second time.
                if db.execute("PRAGMA user_version").fetchone()[0] < version:
                    for statement in _statements(schema):
                        db.execute(statement)
                    db.execute(f"PRAGMA user_version={version}")
        return db
    except sqlite3.DatabaseError as exc:
        raise CustodesError(f"{path}: not a usable database: {exc}") from None
    except OSError as exc:
        raise CustodesError(f"{path}: cannot open: {exc.strerror}") from None


def _wal(db: sqlite3.Connection) -> None:
    """Switch to WAL. SQLite answers "database is locked" at once, without its busy handler,
    while another connection is switching the same new file: wait for it, as for any lock."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _statements(schema: str) -> list[str]:
    return [s.strip() for s in schema.split(";") if s.strip()]


@contextmanager
def transaction(db: sqlite3.Connection):
    """One write transaction, taking the write lock at its start; rolled back on any error."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class Store:
    """A workspace's SQLite store: subclasses name their ``SCHEMA``, ``VERSION``, whether
    commits are ``POWER_SAFE``, and where the file lives (``path_of``)."""

    SCHEMA: str
    VERSION: int
    POWER_SAFE = True

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    @staticmethod
    def path_of(workspace: Workspace) -> Path:
        raise NotImplementedError

    @classmethod
    def open(cls, workspace: Workspace):
        return cls(connect(cls.path_of(workspace), cls.SCHEMA, cls.VERSION, cls.POWER_SAFE))

    @classmethod
    def open_existing(cls, workspace: Workspace):
        """The store, or None when it was never created (reading creates nothing)."""
        return cls.open(workspace) if cls.path_of(workspace).exists() else None

    def close(self) -> None:
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
