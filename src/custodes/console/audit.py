"""The console's own audit trail: who viewed or exported what, append-only and hash-chained.

``WORKSPACE/console/audit.jsonl`` (0600): one JSON object a line with ``seq``, ``time``, ``user``,
``role``, ``action``, ``target``, ``detail``, ``client``, ``prev`` (the previous entry's hash) and
``hash`` = SHA-256 over ``prev`` and the entry's canonical JSON. Editing, deleting or inserting a
line breaks the chain at that line, which :func:`verify` reports. Beside it, ``audit.head``
(0600) keeps the last entry's ``seq`` and ``hash``, so cutting entries off the end is noticed too
(unless the head is rewritten as well: ship it off the machine for that). Before each append
the trail's last entry is compared with the head: on a mismatch (entries cut off, the head
deleted or replaced) nothing is appended, :class:`AuditBroken` is raised, and the console shows
nothing until an admin has looked (``custodes serve --verify-audit``, then ``--restart-audit``).
Personal data never goes in it: it says *that* 4,210 account ids were shown, not which.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import hmac
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from custodes.errors import CustodesError
from custodes.text import plural
from custodes.workspace import Workspace, atomic_write_bytes, private_open

GENESIS = "0" * 64
_log = logging.getLogger("custodes.console")
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


class AuditBroken(CustodesError):
    """The trail does not end where its head says: nothing more is appended to it."""


def tail_problem(last: dict | None, entries: int | None, head: dict | None) -> tuple[str, int | None] | None:
    """Why the trail's last entry (of ``entries``, when known) does not match its head, and the
    first line concerned; None when it matches. The head may be one entry behind: a crash
    between writing an entry and its head leaves it so."""
    count = entries if entries is not None else (last["seq"] if last else 0)
    if head is not None and head["seq"] < 0:
        return "the audit head file is not valid", None
    if head is None:
        return None if last is None else (f"the head is missing but the trail holds {plural(count, 'entry')}", 1)
    if last is None:
        return f"the trail is empty or gone but its head records {plural(head['seq'], 'entry')}", 1
    if last["seq"] == head["seq"] and last["hash"] == head["hash"]:
        return None
    if last["seq"] == head["seq"] + 1 and last["prev"] == head["hash"]:
        return None
    if last["seq"] < head["seq"]:
        return f"truncated: the head records {plural(head['seq'], 'entry')}, the trail holds {count}", count + 1
    if last["seq"] > head["seq"] + 1:
        return (f"{plural(last['seq'] - head['seq'], 'entry')} after the one the head records ({head['seq']})",
                head["seq"] + 2)
    return f"the trail's last entry ({last['seq']}) is not the one its head records", last["seq"]


def write_head(path: Path, entry: dict, workspace: Workspace | None = None) -> list[str]:
    """Record ``entry`` as the trail's head, and, with the ``workspace``'s ``seal.anchor``, send it
    to the same anchor as the lake's seal head (kind ``audit``): a trail cut and re-headed inside
    the workspace then no longer matches what was recorded outside it. Returns the anchor's
    warnings (a sink that failed: the head is queued and sent again with the next one)."""
    atomic_write_bytes(head_path(path), json.dumps({"seq": entry["seq"], "hash": entry["hash"]}).encode())
    if workspace is None:
        return []
    from custodes import anchor

    warnings = anchor.record(workspace, "audit", entry["seq"], entry["hash"])
    for warning in warnings:
        _log.warning("custodes: %s", warning)
    return warnings


def anchored_last(workspace: Workspace) -> dict | None:
    """The newest audit head recorded in the workspace's anchor file, or None (no file anchor)."""
    if workspace is None:
        return None
    from custodes import anchor

    target = anchor.sinks(workspace).get("file")
    return anchor.last(target, "audit", anchor.workspace_id(workspace)) if target else None


def anchor_problem(last: dict | None, anchored: dict | None) -> str | None:
    """Why the trail's last entry cannot follow the newest anchored head: the trail was rolled
    back (it ends before that head) or rewritten (it holds another hash at that seq). Only the
    last entry is compared here (cheap, before every append); ``verify`` checks every head."""
    if anchored is None:
        return None
    seq = int(anchored["seq"])
    if last is None or last["seq"] < seq:
        return (f"the anchor records audit head {seq} (at {anchored.get('time')}) but the trail ends at "
                f"{last['seq'] if last else 0}: rolled back or cut")
    if last["seq"] == seq and not hmac.compare_digest(last["hash"], str(anchored["head"])):
        return f"the trail holds another entry {seq} than the one anchored at {anchored.get('time')}: rewritten"
    return None


class AuditTrail:
    """``workspace``, when given, anchors every new head (``seal.anchor``) and refuses to append
    to a trail that ends before the newest anchored head."""

    def __init__(self, path: Path, workspace: Workspace | None = None):
        self.path = path
        self.workspace = workspace
        self._lock = threading.Lock()

    def record(self, *, user: str | None, role: str | None, action: str, target: str = "",
               detail: dict | None = None, client: str | None = None, _restarting: bool = False) -> dict:
        """Append one entry; the file lock keeps the chain whole across threads and processes.
        Raises :class:`AuditBroken`, appending nothing, when the trail does not end where its
        head (or the anchor) says."""
        with self._lock, self.locked() as out:
            prev = self._checked_last(anchored=not _restarting)
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
            write_head(self.path, entry, self.workspace)
        return entry

    @contextlib.contextmanager
    def locked(self):
        """The trail open for appending under an exclusive ``flock``, which every writer (thread
        or process) takes; retaken when the file was moved aside meanwhile (``restart``)."""
        while True:
            out = private_open(self.path, "ab")
            fcntl.flock(out.fileno(), fcntl.LOCK_EX)
            try:
                now = os.stat(self.path)
            except FileNotFoundError:
                now = None
            held = os.fstat(out.fileno())
            if now is not None and (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino):
                break
            out.close()  # closing releases the lock
        try:
            yield out
        finally:
            fcntl.flock(out.fileno(), fcntl.LOCK_UN)
            out.close()

    def _checked_last(self, anchored: bool = True) -> dict | None:
        """The last entry, once it is known to be the one the head (and the anchor) records."""
        with open(self.path, "rb") as reader:
            text = _last_line(reader)
        try:
            last = json.loads(text) if text else None
            if last is not None:
                last = {"seq": int(last["seq"]), "hash": str(last["hash"]), "prev": str(last["prev"])}
        except (ValueError, KeyError, TypeError):
            raise AuditBroken(f"{self.path}: the last line is not a valid audit entry") from None
        problem = tail_problem(last, None, _read_head(self.path))
        if not problem and anchored:
            why = anchor_problem(last, anchored_last(self.workspace))
            problem = (why, None) if why else None
        if problem:
            raise AuditBroken(f"{self.path}: {problem[0]}; nothing is appended until it is checked "
                              "(custodes serve --verify-audit, then --restart-audit)")
        return last

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


def verify(path: Path, workspace: Workspace | None = None, anchors: tuple[str, ...] = ()) -> AuditCheck:
    """Walk the chain from the first line; report the first line that does not follow, or a
    trail that does not end where its head says (entries cut off, the head deleted). Then every
    audit head recorded in ``anchors`` (files; by default the ``workspace``'s ``seal.anchor``
    file) must be in the trail: a trail cut and re-headed, or restored from an older copy, fails."""
    head = _read_head(path)
    hashes: list[str] = []
    check, last = _walk(path, hashes) if path.exists() else (AuditCheck(True, 0), None)
    if not check.ok:
        return check
    problem = tail_problem(last, check.entries, head)
    if problem:
        return AuditCheck(False, check.entries, *problem)
    for problem in _anchor_problems(hashes, workspace, anchors):
        return AuditCheck(False, check.entries, problem, None)
    return AuditCheck(True, check.entries)


def _anchor_problems(hashes: list[str], workspace: Workspace, anchors: tuple[str, ...]) -> list[str]:
    from custodes import anchor

    files = list(anchors)
    if not files and workspace is not None and anchor.sinks(workspace).get("file"):
        files = [anchor.sinks(workspace)["file"]]
    ws_id = anchor.workspace_id(workspace) if workspace is not None else None
    problems = []
    for file in files:
        found = anchor.check(file, "audit", lambda seq: hashes[seq - 1] if 0 < seq <= len(hashes) else None,
                             workspace=ws_id, require=bool(anchors), restarts=True)
        problems += found.problems
    return problems


def _walk(path: Path, hashes: list[str]) -> tuple[AuditCheck, dict | None]:
    prev_hash, count, last = GENESIS, 0, None
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            try:
                entry = json.loads(line)
                claimed = entry["hash"]
                fields_ok = all(k in entry for k in _FIELDS)
            except (ValueError, KeyError, TypeError):
                return AuditCheck(False, count, "not a valid audit entry", lineno), last
            if not fields_ok or entry["seq"] != lineno:
                return AuditCheck(False, count, "entry out of sequence", lineno), last
            if entry["prev"] != prev_hash:
                return AuditCheck(False, count, "chain broken: previous hash does not match", lineno), last
            if _digest(entry) != claimed:
                return AuditCheck(False, count, "entry altered: its hash does not match", lineno), last
            prev_hash, count, last = claimed, count + 1, entry
            hashes.append(claimed)
    return AuditCheck(True, count), last


def restart(path: Path, by: str, workspace: Workspace | None = None) -> dict:
    """Start a new trail after a broken one: the broken trail and its head are moved aside, kept
    as evidence, and the new chain's first entry (``audit.restarted``) records why, by whom, and
    the SHA-256 of the trail moved aside. Refused while the trail verifies."""
    check = verify(path, workspace)
    if check.ok:
        raise CustodesError(f"{path}: the audit trail is intact ({plural(check.entries, 'entry')}); nothing to restart")
    trail = AuditTrail(path, workspace)
    with trail.locked():
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        kept = path.with_name(f"{path.stem}.broken-{stamp}{path.suffix}")
        os.rename(path, kept)
        if head_path(path).exists():
            os.rename(head_path(path), head_path(kept))
        digest = hashlib.sha256(kept.read_bytes()).hexdigest()
        # Recorded while the old trail is still locked: a console process waiting for it finds
        # the new trail with this entry first.
        return trail.record(user=None, role=None, action="audit.restarted", target=kept.name,
                            detail={"by": by, "problem": check.problem, "line": check.line,
                                    "entries": check.entries, "sha256": digest}, _restarting=True)
