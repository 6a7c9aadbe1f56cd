"""Which files of a source a cycle hands to ingest.

- A file whose (path, device, inode, size, mtime) matches its record as loaded is skipped
  without being read: a cycle with nothing new reads no data.
- A file is taken when it is **quiet**: not modified for ``quiet_seconds`` by its mtime, or
  seen unchanged by watch itself for that long (so a clock skew or an mtime set in the future
  cannot keep it waiting).
- A file is taken at once when it was **rotated**: its inode was recorded under another path
  (rename rotation), or it is new in a cycle where a loaded file of the source was truncated
  or replaced (copy-and-truncate and create rotation: the copy is complete once the original
  is cut). Ingest loads of it only what was not loaded yet.
- A line-based file that never goes quiet (a live log) is taken every ``max_wait_seconds``
  anyway: ingest loads its complete records, and the next time only what was added.
- A file renamed without changing since it was loaded moves its record and is not read.
- A file of no known format (``access.log.2.gz``) is ignored, once, with a warning.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path

from custodes.errors import CustodesError
from custodes.lake.readers import format_of
from custodes.watch.config import LINE_FORMATS, Source
from custodes.watch.state import Record, Seen


@dataclass(frozen=True)
class Candidate:
    path: Path
    seen: Seen
    format: str | None
    reason: str  # quiet | rotated | growing | waiting | moved | unknown format
    record: Record | None

    def first_seen(self, now: float) -> float:
        return self.record.first_seen if self.record else now

    def since(self, now: float) -> float:
        """When watch first saw the file as it is now."""
        return self.record.since if self.record and self.record.seen == self.seen else now


@dataclass
class Plan:
    take: list[Candidate] = field(default_factory=list)
    wait: list[Candidate] = field(default_factory=list)
    moved: list[Candidate] = field(default_factory=list)
    ignore: list[Candidate] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)


def matching(given: str) -> list[Path]:
    """The files a source names, as ``custodes ingest`` reads a path (a directory's files
    recursively, names starting with ``.`` in flight and skipped; a glob; a file), except that
    a directory or glob with nothing in it yet is no error."""
    p = Path(given)
    if p.is_dir():
        return sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
    if p.is_file():
        return [p]
    if glob.has_magic(given):
        return sorted(Path(f) for f in glob.glob(given, recursive=True) if Path(f).is_file())
    raise FileNotFoundError(given)


def listing(source: Source) -> dict[str, tuple[Path, Seen]]:
    """The source's files with their ``stat``; a missing directory is an error unless the
    source is optional."""
    try:
        files = matching(source.path)
    except FileNotFoundError:
        if source.optional:
            return {}
        raise CustodesError(f"{source.path}: no such directory or file (source of {source.dataset})") from None
    out = {}
    for f in files:
        try:
            out[str(f)] = (f, Seen.of(f.stat()))
        except FileNotFoundError:  # gone between the listing and the stat: next cycle
            continue
    return out


def plan(source: Source, name: str, records: dict[str, Record], now: float) -> Plan:
    """``records``: every record of the source's dataset (a file may move between sources)."""
    listed = listing(source)
    out = Plan(gone=[r.path for r in records.values() if r.source == name and r.path not in listed])
    inode_at = {path: seen.inode for path, (_, seen) in listed.items()}
    by_inode = {r.seen.inode: r for r in records.values() if r.status != "ignored"}
    rotated = _rotation_seen(name, records, listed)
    for path, (f, seen) in listed.items():
        record = records.get(path)
        if record is not None and record.seen == seen and record.status in ("loaded", "ignored"):
            continue  # unchanged since watch loaded or ignored it
        old = by_inode.get(seen.inode)
        renamed = old is not None and old.path != path and inode_at.get(old.path) != seen.inode
        if renamed and old.status == "loaded" and old.seen == seen:
            out.moved.append(Candidate(f, seen, None, "moved", old))
            continue
        try:
            fmt = source.format or format_of(f, None)
        except CustodesError:  # recorded as ignored: the warning comes once, or when the file changes
            out.ignore.append(Candidate(f, seen, None, "unknown format", record))
            continue
        candidate = Candidate(f, seen, fmt, _why(source, fmt, seen, record, renamed, rotated, now), record)
        (out.wait if candidate.reason == "waiting" else out.take).append(candidate)
    return out


def _rotation_seen(name: str, records: dict[str, Record], listed: dict) -> bool:
    """Whether a loaded file of this source was truncated or replaced since it was loaded."""
    for r in records.values():
        if r.source != name or r.status != "loaded" or r.path not in listed:
            continue
        now_seen = listed[r.path][1]
        if now_seen.inode != r.seen.inode or now_seen.size < r.seen.size:
            return True
    return False


def _why(source: Source, fmt: str, seen: Seen, record: Record | None, renamed: bool, rotated: bool,
         now: float) -> str:
    if renamed or (record is None and rotated):
        return "rotated"
    quiet = source.quiet_seconds
    unchanged_since = record.since if record is not None and record.seen == seen else now
    if now - seen.mtime_ns / 1e9 >= quiet or now - unchanged_since >= quiet:
        return "quiet"
    wait = source.max_wait_seconds
    last = (record.taken_at or record.first_seen) if record is not None else now
    if wait and fmt in LINE_FORMATS and now - last >= wait:
        return "growing"
    return "waiting"
