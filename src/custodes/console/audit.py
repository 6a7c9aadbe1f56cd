"""The console's own audit trail: who viewed or exported what, append-only and hash-chained.

``WORKSPACE/console/audit.jsonl`` (0600): one JSON object a line with ``seq``, ``time``, ``user``,
``role``, ``action``, ``target``, ``detail``, ``client``, ``prev`` (the previous entry's hash) and
``hash`` = SHA-256 over ``prev`` and the entry's canonical JSON. Editing, deleting or inserting a
line breaks the chain at that line, which :func:`verify` reports. Beside it, ``audit.head``
(0600) keeps the last entry's ``seq`` and ``hash``, so cutting entries off the end is noticed too
(unless the head is rewritten as well: ship it off the machine for that). Personal data never
goes in it: it says *that* 4,210 account ids were shown, not which.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from custodes.workspace import atomic_write_bytes, private_open

GENESIS = "0" * 64
_FIELDS = ("seq", "time", "user", "role", "action", "target", "detail", "client", "prev")


def _digest(entry: dict) -> str:
    body = json.dumps({k: entry[k] for k in _FIELDS}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _last_line(fh) -> str | None:
    """The last complete line of a file opened for reading, read from its end."""
    fh.seek(0, os.SEEK_END)
    end = fh.tell()
    if end == 0:
        return None
    block = min(end, 8192)
    while True:
        fh.seek(end - block)
        chunk = fh.read(block)
        lines = chunk.rstrip(b"\n").split(b"\n")
        if len(lines) > 1 or block == end:
            return lines[-1].decode("utf-8")
        block = min(end, block * 4)


class AuditTrail:
    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()

    def record(self, *, user: str | None, role: str | None, action: str, target: str = "",
               detail: dict | None = None, client: str | None = None) -> dict:
        """Append one entry; the file lock keeps the chain whole across threads and processes."""
        with self._lock, private_open(self.path, "ab") as out:
            fcntl.flock(out.fileno(), fcntl.LOCK_EX)
            try:
                with open(self.path, "rb") as reader:
                    last = _last_line(reader)
                prev = json.loads(last) if last else None
                entry = {
                    "seq": (prev["seq"] + 1) if prev else 1,
                    "time": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    "user": user, "role": role, "action": action, "target": target,
                    "detail": detail or {}, "client": client,
                    "prev": prev["hash"] if prev else GENESIS,
                }
                entry["hash"] = _digest(entry)
                out.write((json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n").encode())
                out.flush()
                os.fsync(out.fileno())
                # Written after the entry: a crash in between leaves the head one behind, which
                # verify accepts; a head ahead of the file means entries were cut off.
                atomic_write_bytes(head_path(self.path), json.dumps(
                    {"seq": entry["seq"], "hash": entry["hash"]}).encode())
            finally:
                fcntl.flock(out.fileno(), fcntl.LOCK_UN)
        return entry

    def tail(self, limit: int = 200) -> list[dict]:
        """The newest ``limit`` entries, newest first."""
        if not self.path.exists():
            return []
        with open(self.path, encoding="utf-8") as fh:
            lines = fh.readlines()[-limit:]
        return [json.loads(line) for line in reversed(lines) if line.strip()]


@dataclass(frozen=True)
class AuditCheck:
    ok: bool
    entries: int
    problem: str | None = None
    line: int | None = None


def head_path(path: Path) -> Path:
    return path.with_name(path.stem + ".head")


def _read_head(path: Path) -> dict | None:
    try:
        head = json.loads(head_path(path).read_text())
        return {"seq": int(head["seq"]), "hash": str(head["hash"])}
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        return {"seq": -1, "hash": ""}


def verify(path: Path) -> AuditCheck:
    """Walk the chain from the first line; report the first line that does not follow, or
    entries missing from the end according to the head."""
    head = _read_head(path)
    if head is not None and head["seq"] < 0:
        return AuditCheck(False, 0, "the audit head file is not valid", None)
    if not path.exists():
        if head:
            return AuditCheck(False, 0, f"the trail is gone but its head records {head['seq']} entries", 1)
        return AuditCheck(True, 0)
    check, hashes = _walk(path)
    if not check.ok or head is None:
        return check
    if check.entries < head["seq"]:
        return AuditCheck(False, check.entries, f"truncated: the head records {head['seq']} entries, "
                          f"the file holds {check.entries}", check.entries + 1)
    if head["seq"] >= 1 and hashes[head["seq"] - 1] != head["hash"]:
        return AuditCheck(False, check.entries, "entry named by the head was replaced", head["seq"])
    return AuditCheck(True, check.entries)


def _walk(path: Path) -> tuple[AuditCheck, list[str]]:
    prev_hash, count, hashes = GENESIS, 0, []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            try:
                entry = json.loads(line)
                claimed = entry["hash"]
                fields_ok = all(k in entry for k in _FIELDS)
            except (ValueError, KeyError, TypeError):
                return AuditCheck(False, count, "not a valid audit entry", lineno), hashes
            if not fields_ok or entry["seq"] != lineno:
                return AuditCheck(False, count, "entry out of sequence", lineno), hashes
            if entry["prev"] != prev_hash:
                return AuditCheck(False, count, "chain broken: previous hash does not match", lineno), hashes
            if _digest(entry) != claimed:
                return AuditCheck(False, count, "entry altered: its hash does not match", lineno), hashes
            prev_hash, count = claimed, count + 1
            hashes.append(claimed)
    return AuditCheck(True, count), hashes
