"""The manifest: one JSON entry per committed ingest of one source file, named by its ingest
sequence (``lake/_manifest/<seq>.json``). Writing the entry (atomically) is the commit point:
rows in files no entry names were never ingested, and are removed on the next ingest's start.

The entry records the source's SHA-256 (the same content ingested twice adds nothing), the
stored files with their SHA-256 (the seals), counts, and the previous entry's seal (the chain).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path

from custodes.errors import CustodesError
from custodes.lake import seal
from custodes.lake.store import stored_seq
from custodes.workspace import atomic_write_bytes, private_dir

ENTRY_VERSION = 1


def manifest_dir(ws) -> Path:
    return ws.lake / "_manifest"


def entry_path(ws, seq: int) -> Path:
    return manifest_dir(ws) / f"{seq:010d}.json"


def committed_seqs(ws) -> list[int]:
    d = manifest_dir(ws)
    if not d.is_dir():
        return []
    return sorted(int(p.stem) for p in d.glob("*.json") if p.stem.isdigit())


def high_water(ws) -> int:
    seqs = committed_seqs(ws)
    return seqs[-1] if seqs else 0


def read_entry(path: Path) -> dict:
    try:
        entry = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise CustodesError(f"{path}: unreadable manifest entry ({exc})") from None
    if not isinstance(entry, dict):
        raise CustodesError(f"{path}: a manifest entry is a JSON object")
    return entry


def entries(ws) -> list[dict]:
    """Every committed entry, in sequence order."""
    return [read_entry(entry_path(ws, s)) for s in committed_seqs(ws)]


def commit(ws, entry: dict, previous: dict | None) -> dict:
    entry = dict(entry, version=ENTRY_VERSION, prev=previous["seal"] if previous else seal.GENESIS)
    entry["seal"] = seal.entry_seal(entry)
    private_dir(manifest_dir(ws))
    atomic_write_bytes(entry_path(ws, entry["seq"]), json.dumps(entry, indent=1, sort_keys=True).encode())
    _fsync_dir(manifest_dir(ws))
    return entry


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def lock(ws, exclusive: bool = True):
    """One ingest at a time; verify waits for a running ingest (no half-written state seen)."""
    private_dir(ws.lake)
    fd = os.open(ws.lake / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def recover(ws) -> list[Path]:
    """Remove what a crashed ingest left: staged dot-files, and stored or quarantine files of
    sequences no manifest entry committed. Call with the exclusive lock held."""
    committed = set(committed_seqs(ws))
    removed = []
    for root in (ws.lake, ws.quarantine):
        if not root.is_dir():
            continue
        for path in root.rglob("*"):
            if not path.is_file() or path.parent == manifest_dir(ws) and not path.name.startswith("."):
                continue
            if path.name == ".lock":
                continue
            orphan = path.name.startswith(".") and (".tmp" in path.name)
            seq = stored_seq(path.name)
            if seq is not None and seq not in committed:
                orphan = True
            if orphan:
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def ingested_sources(entries_: list[dict]) -> dict[tuple[str, str], int]:
    """(dataset, source sha256) -> the seq that ingested it."""
    return {(e["dataset"], e["source"]["sha256"]): e["seq"] for e in entries_}


def head_path(ws) -> Path:
    return ws.seals / "head.json"


def write_head(ws, last: dict) -> dict:
    """Record (and sign, when a signing key is configured) the chain's head."""
    head = {"seq": last["seq"], "seal": last["seal"]}
    key_path = ws.setting("seal.signing_key")
    if key_path:
        head.update(seal.sign_head(str(key_path), last["seq"], last["seal"]))
    private_dir(ws.seals)
    atomic_write_bytes(head_path(ws), json.dumps(head, indent=1, sort_keys=True).encode())
    return head


def read_head(ws) -> dict | None:
    path = head_path(ws)
    if not path.exists():
        return None
    try:
        head = json.loads(path.read_bytes())
        int(head["seq"]), str(head["seal"])
    except (OSError, ValueError, KeyError, TypeError):
        return {"seq": -1, "seal": "", "corrupt": True}
    return head


def heal_head(ws, entries_: list[dict]) -> None:
    """After a crash between commit and head update, the head lags the chain: move it forward.
    Only a head that is a consistent prefix of the chain moves; one that is ahead of the chain
    or disagrees with it is evidence (truncation, rewrite) and stays for verify to report."""
    if not entries_:
        return
    head = read_head(ws)
    last = entries_[-1]
    if head is None:
        if len(entries_) == 1:  # the first commit crashed before its head was written
            write_head(ws, last)
        return
    if head.get("corrupt") or int(head["seq"]) >= last["seq"]:
        return
    at = next((e for e in entries_ if e["seq"] == int(head["seq"])), None)
    if at is not None and seal.same_digest(str(at.get("seal", "")), str(head["seal"])):
        write_head(ws, last)
