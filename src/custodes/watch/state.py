"""What ``custodes watch`` remembers between cycles: ``WORKSPACE/watch/state.db`` (SQLite, WAL, 0600).

- ``files``: per (dataset, path), the file as it was last handed to ingest (device, inode,
  size, mtime) and what came of it, or since when it waits to be taken;
- ``sources``: per source, rows loaded and quarantined, files, failures (monotonic, for the
  metrics), the latest event time loaded, the last error;
- ``meta``: the last cycle's summary.

This state only spares work: a file whose record matches its ``stat`` is not read again. The
guarantee that nothing is loaded twice and nothing lost is the lake's (ingest is
content-addressed and commits each file whole), so a kill between an ingest and the record of
it costs one more hashing of that file, never a row.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from custodes.sqlitedb import Store, transaction
from custodes.workspace import Workspace

VERSION = 1
SCHEMA = """
CREATE TABLE files (
    dataset TEXT NOT NULL,
    path TEXT NOT NULL,
    source TEXT NOT NULL,
    dev INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('loaded', 'waiting', 'failed', 'ignored')),
    seq INTEGER,
    first_seen REAL NOT NULL,
    since REAL NOT NULL,
    taken_at REAL,
    error TEXT,
    PRIMARY KEY (dataset, path)
);
CREATE TABLE sources (
    name TEXT PRIMARY KEY,
    dataset TEXT NOT NULL,
    rows INTEGER NOT NULL DEFAULT 0,
    quarantined INTEGER NOT NULL DEFAULT 0,
    files INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    last_time TEXT,
    last_error TEXT
);
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class Seen:
    """A file as ``stat`` shows it: what tells an unchanged file from a changed one."""
    dev: int
    ino: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> Seen:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    @property
    def inode(self) -> tuple[int, int]:
        return self.dev, self.ino


@dataclass(frozen=True)
class Record:
    path: str
    source: str
    seen: Seen
    status: str
    seq: int | None
    first_seen: float  # when watch first saw this path
    since: float       # when it first saw the file as it is now (same size, mtime, inode)
    taken_at: float | None  # when it last handed it to ingest
    error: str | None


def path_of(workspace: Workspace):
    return workspace.root / "watch" / "state.db"


class WatchState(Store):
    # A lost commit (power cut) only makes a file be handed to ingest once more, which
    # skips it: no fsync per file is needed.
    SCHEMA, VERSION, POWER_SAFE = SCHEMA, VERSION, False
    path_of = staticmethod(path_of)

    def files(self, dataset: str) -> dict[str, Record]:
        rows = self.db.execute("SELECT * FROM files WHERE dataset = ?", (dataset,))
        return {r["path"]: Record(r["path"], r["source"], Seen(r["dev"], r["ino"], r["size"], r["mtime_ns"]),
                                  r["status"], r["seq"], r["first_seen"], r["since"], r["taken_at"], r["error"])
                for r in rows}

    def all_files(self) -> list[dict]:
        return [dict(r) for r in self.db.execute("SELECT * FROM files ORDER BY dataset, path")]

    def record(self, dataset: str, source: str, path: str, seen: Seen, status: str, *, first_seen: float,
               since: float, seq: int | None = None, taken_at: float | None = None,
               error: str | None = None) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (dataset, path, source, seen.dev, seen.ino, seen.size, seen.mtime_ns, status, seq, first_seen,
             since, taken_at, error))

    def record_loaded(self, dataset: str, source: str, path: str, seen: Seen, *, seq: int | None,
                      first_seen: float, since: float, taken_at: float | None, rows: int = 0,
                      quarantined: int = 0, last_time: str | None = None) -> None:
        """A file ingested (or found in the lake already): its record and the source's
        tallies, in one transaction."""
        with transaction(self.db):
            self.record(dataset, source, path, seen, "loaded", first_seen=first_seen, since=since, seq=seq,
                        taken_at=taken_at)
            self._source(source, dataset)
            self.db.execute(
                "UPDATE sources SET rows = rows + :rows, quarantined = quarantined + :quarantined, "
                "files = files + :files, last_error = NULL, last_time = CASE WHEN :last_time > "
                "coalesce(last_time, '') THEN :last_time ELSE last_time END WHERE name = :name",
                {"rows": rows, "quarantined": quarantined, "files": 1 if rows or quarantined else 0,
                 "last_time": last_time, "name": source})

    def record_other(self, dataset: str, source: str, candidate, status: str, now: float) -> None:
        """A file left waiting (still being written) or ignored (no known format)."""
        with transaction(self.db):
            r = candidate.record
            self.record(dataset, source, str(candidate.path), candidate.seen, status,
                        first_seen=candidate.first_seen(now), since=candidate.since(now),
                        seq=r.seq if r else None, taken_at=r.taken_at if r else None)

    def record_failed(self, dataset: str, source: str, candidate, now: float, error: str) -> None:
        with transaction(self.db):
            if candidate is not None:
                r = candidate.record
                self.record(dataset, source, str(candidate.path), candidate.seen, "failed",
                            first_seen=candidate.first_seen(now), since=candidate.since(now),
                            seq=r.seq if r else None, taken_at=r.taken_at if r else None, error=error)
            self._source(source, dataset)
            self.db.execute("UPDATE sources SET failures = failures + 1, last_error = ? WHERE name = ?",
                            (error, source))

    def forget(self, dataset: str, paths: list[str]) -> None:
        """Records of files that are gone (after their inodes served to recognise renames)."""
        if paths:
            with transaction(self.db):
                self.db.executemany("DELETE FROM files WHERE dataset = ? AND path = ?", [(dataset, p) for p in paths])

    def _source(self, name: str, dataset: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO sources (name, dataset) VALUES (?, ?)", (name, dataset))

    def sources(self) -> dict[str, dict]:
        return {r["name"]: dict(r) for r in self.db.execute("SELECT * FROM sources")}

    def pending(self) -> dict[str, tuple[int, float | None]]:
        """Per source: files not loaded yet (waiting or failing), and since when the oldest one
        has waited: since it was last taken, else since watch first saw it (the wall clock of
        watch's own observations; a file's mtime could say anything)."""
        return {r["source"]: (r["n"], r["oldest"]) for r in self.db.execute(
            "SELECT source, count(*) AS n, min(coalesce(taken_at, first_seen)) AS oldest FROM files "
            "WHERE status IN ('waiting', 'failed') GROUP BY source")}

    def put_meta(self, key: str, value) -> None:
        with transaction(self.db):
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def meta(self, key: str, default=None):
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row["value"]) if row else default
