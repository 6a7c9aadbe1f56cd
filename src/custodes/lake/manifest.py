"""The manifest: one JSON entry per committed ingest of one source file, named by its ingest
sequence (``lake/_manifest/<seq>.json``). Writing the entry (atomically) is the commit point:
rows in files no entry names were never ingested, and are removed on the next ingest's start.

The entry records the source's SHA-256 (the same content ingested twice adds nothing), the
stored files with their SHA-256 (the seals), counts, and the previous entry's seal (the chain).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
from pathlib import Path

from custodes import anchor
from custodes.errors import CustodesError
from custodes.lake import seal
from custodes.lake.store import stored_seq
from custodes.safefile import fsync_dir, temp_target
from custodes.workspace import Workspace, atomic_write_bytes, private_dir

ENTRY_VERSION = 1
ENTRY_NAME_RE = re.compile(r"^\d{10}\.json$")


def torn_entry(name: str) -> bool:
    """Whether ``name`` is what ``atomic_write_bytes`` leaves of an entry when it is killed
    between writing and renaming."""
    target = temp_target(name)
    return target is not None and ENTRY_NAME_RE.match(target) is not None


def manifest_dir(ws: Workspace) -> Path:
    return ws.lake / "_manifest"


def entry_name(seq: int) -> str:
    return f"{seq:010d}.json"


def entry_path(ws: Workspace, seq: int) -> Path:
    return manifest_dir(ws) / entry_name(seq)


def committed_seqs(ws: Workspace) -> list[int]:
    d = manifest_dir(ws)
    if not d.is_dir():
        return []
    return sorted(int(p.stem) for p in d.glob("*.json") if p.stem.isdigit())


def high_water(ws: Workspace) -> int:
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


def entries(ws: Workspace) -> list[dict]:
    """Every committed entry, in sequence order."""
    return [read_entry(entry_path(ws, s)) for s in committed_seqs(ws)]


def commit(ws: Workspace, entry: dict, previous: dict | None, keys: seal.Keys | None = None) -> dict:
    """Seal ``entry`` after ``previous``, sign it when a signing key is configured, and write it:
    the commit. Raises (and leaves no entry file) when the write fails."""
    entry = dict(entry, version=ENTRY_VERSION, prev=previous["seal"] if previous else seal.GENESIS)
    entry["seal"] = seal.entry_seal(entry)
    if keys is not None and keys.signer is not None:
        entry["signature"] = keys.sign_entry(entry["seq"], entry["seal"])
    write_entry(ws, entry)
    return entry


def write_entry(ws: Workspace, entry: dict) -> None:
    private_dir(manifest_dir(ws))
    atomic_write_bytes(entry_path(ws, entry["seq"]), json.dumps(entry, indent=1, sort_keys=True).encode())
    fsync_dir(manifest_dir(ws))


@contextlib.contextmanager
def lock(ws: Workspace, exclusive: bool = True):
    """One ingest at a time; verify waits for a running ingest (no half-written state seen)."""
    private_dir(ws.lake)
    fd = os.open(ws.lake / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def recover(ws: Workspace, above: int, named: set[str]) -> list[Path]:
    """Remove what a crashed ingest left: staged dot-files, and stored or quarantine files of
    sequences above ``above`` (the head, once the chain has been checked and its signed trailing
    entries adopted) that no entry names. Nothing at or below it is touched: a file there that
    no entry seals is evidence for verify, not litter (queries never read it). Call with the
    exclusive lock held."""
    manifests = manifest_dir(ws)
    removed = []
    for root in (ws.lake, ws.quarantine):
        for path, is_file in _walk(root):
            if not is_file:
                continue
            if path.parent == manifests:
                doomed = torn_entry(path.name)  # an entry's atomic write killed mid-way
            else:
                seq = stored_seq(path.name)
                doomed = staged(path.name) or (seq is not None and seq > above
                                               and str(path.relative_to(ws.root)) not in named)
            if doomed:
                path.unlink(missing_ok=True)
                removed.append(path)
    for path in ws.seals.iterdir() if ws.seals.is_dir() else ():
        if temp_target(path.name) == head_path(ws).name:  # the head's atomic write killed mid-way
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _walk(root: Path):
    """(path, is a regular file) for everything under ``root``, links not followed: one
    ``scandir`` a directory, its entries' types without a stat each (a lake has thousands)."""
    try:
        entries = list(os.scandir(root))
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        path = root / entry.name
        if entry.is_dir(follow_symlinks=False):
            yield path, False
            yield from _walk(path)
        else:
            yield path, entry.is_file(follow_symlinks=False)


def staged(name: str) -> bool:
    """A dot-named file a writer stages before renaming it into place (``.part-….parquet.tmp``,
    ``.q-….parquet.tmp``)."""
    return name.startswith(".") and name.endswith(".tmp") and stored_seq(name[1:-4]) is not None


def sealed_files(entries_: list[dict]) -> dict[str, dict]:
    """Every stored and quarantine file the entries seal: relative path -> {path, sha256, bytes, rows}."""
    sealed = {}
    for e in entries_:
        for f in e.get("files") or ():
            sealed[f["path"]] = f
        if e.get("quarantine_file"):
            sealed[e["quarantine_file"]["path"]] = e["quarantine_file"]
    return sealed


def remove_stored(ws: Workspace, entry: dict) -> None:
    """Remove the files an ingest renamed into place, when its commit failed: they are ours,
    and left there they would read as inserted to verify."""
    for rel in sealed_files([entry]):
        (ws.root / rel).unlink(missing_ok=True)


def ingested_sources(entries_: list[dict]) -> dict[tuple[str, str], int]:
    """(dataset, source sha256) -> the seq that ingested it."""
    return {(e["dataset"], e["source"]["sha256"]): e["seq"] for e in entries_}


def head_path(ws: Workspace) -> Path:
    return ws.seals / "head.json"


def write_head(ws: Workspace, last: dict, keys: seal.Keys | None = None) -> dict:
    """Record (and sign, when a signing key is configured) the chain's head."""
    head = {"seq": last["seq"], "seal": last["seal"]}
    if keys is not None and keys.signer is not None:
        head.update(keys.sign_head(last["seq"], last["seal"]))
    private_dir(ws.seals)
    atomic_write_bytes(head_path(ws), json.dumps(head, indent=1, sort_keys=True).encode())
    return head


def publish_head(ws: Workspace, last: dict, keys: seal.Keys) -> list[str]:
    """Move the head to ``last`` (raises when that write fails), then anchor it outside the
    workspace. An anchor that fails is queued and retried, never undoes the head: warnings."""
    write_head(ws, last, keys)
    return anchor.record(ws, "lake", last["seq"], last["seal"], keys.signer_fingerprint or keys.fingerprint)


def read_head(ws: Workspace) -> dict | None:
    path = head_path(ws)
    if not path.exists():
        return None
    try:
        head = json.loads(path.read_bytes())
        int(head["seq"]), str(head["seal"])
    except (OSError, ValueError, KeyError, TypeError):
        return {"seq": -1, "seal": "", "corrupt": True}
    return head


def commit_files(ws: Workspace, dataset: str, paths, source: str | None = None) -> dict:
    """Seal files already written in the lake's layout as one committed ingest of ``dataset``
    (the next seq), and move the head. For tests and benchmarks that build a lake without
    ingest, and for tools that write the layout themselves: queries read only sealed files."""
    import pyarrow.parquet as pq

    files = []
    for path in paths:
        path = Path(path)
        sha, size = seal.file_sha256(path)
        files.append({"path": str(path.relative_to(ws.root)), "sha256": sha, "bytes": size,
                      "rows": pq.ParquetFile(path).metadata.num_rows})
    keys = seal.Keys.of(ws)
    with lock(ws):
        done = entries(ws)
        last = done[-1] if done else None
        entry = {"seq": (last["seq"] if last else 0) + 1, "dataset": dataset, "rows": sum(f["rows"] for f in files),
                 "quarantined": 0, "reasons": {}, "first_time": None, "last_time": None, "files": files,
                 "quarantine_file": None, "committed_at": None,
                 "source": {"path": source or "", "sha256": _files_digest(files),
                            "bytes": sum(f["bytes"] for f in files), "format": "parquet"}}
        last = commit(ws, entry, last, keys)
        publish_head(ws, last, keys)
    return last


def _files_digest(files: list[dict]) -> str:
    """The content key of a commit of written files (its "source"): their seals together."""
    return hashlib.sha256("".join(f["sha256"] for f in files).encode()).hexdigest()
