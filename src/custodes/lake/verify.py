"""``custodes verify``: recompute every seal. Reports stored files that were altered (hash
differs), deleted (sealed but gone) or inserted (present but never sealed), a broken chain
(an entry edited, removed or reordered), and a head that disagrees with the chain or whose
signature fails. Files are hashed in parallel threads (hashlib releases the GIL)."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

from custodes.lake import manifest, seal
from custodes.lake.store import PART_RE, QUARANTINE_RE


@dataclass
class VerifyReport:
    entries: int = 0
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    altered: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    inserted: list[str] = field(default_factory=list)
    chain: list[str] = field(default_factory=list)  # problems with the chain of entries
    head: dict | None = None
    signature: str = "unsigned"  # unsigned | valid | invalid | not checked (no verify key)

    @property
    def ok(self) -> bool:
        return not (self.altered or self.deleted or self.inserted or self.chain or self.signature == "invalid")

    def to_dict(self) -> dict:
        return dict(asdict(self), ok=self.ok, seconds=round(self.seconds, 3))


def verify(workspace, verify_key: str | None = None, workers: int | None = None) -> VerifyReport:
    started = time.perf_counter()
    report = VerifyReport()
    with manifest.lock(workspace, exclusive=False):
        entries = _check_chain(workspace, report)
        sealed = _sealed_files(entries)
        _check_files(workspace, sealed, report, workers)
        _check_inserted(workspace, sealed, report)
        _check_head(workspace, entries, report, verify_key or workspace.setting("seal.verify_key"))
    report.seconds = time.perf_counter() - started
    return report


def _check_chain(ws, report: VerifyReport) -> list[dict]:
    entries = []
    prev = seal.GENESIS
    for expected, seq in enumerate(manifest.committed_seqs(ws), start=1):
        path = manifest.entry_path(ws, seq)
        try:
            entry = manifest.read_entry(path)
        except Exception as exc:  # noqa: BLE001 - any unreadable entry is a finding, not a crash
            report.chain.append(f"entry {seq}: {exc}")
            continue
        if seq != expected:
            report.chain.append(f"entry {expected}: missing (next present is {seq})")
            expected = seq
        if entry.get("seq") != seq:
            report.chain.append(f"entry {seq}: its content says seq {entry.get('seq')}")
        if not seal.same_digest(str(entry.get("seal", "")), seal.entry_seal(entry)):
            report.chain.append(f"entry {seq}: content does not match its seal (edited)")
        if not seal.same_digest(str(entry.get("prev", "")), prev):
            report.chain.append(f"entry {seq}: does not follow the previous entry's seal (chain broken)")
        prev = str(entry.get("seal", ""))
        entries.append(entry)
    report.entries = len(entries)
    return entries


def _sealed_files(entries: list[dict]) -> dict[str, dict]:
    sealed = {}
    for e in entries:
        for f in e.get("files", []):
            sealed[f["path"]] = f
        if e.get("quarantine_file"):
            sealed[e["quarantine_file"]["path"]] = e["quarantine_file"]
    return sealed


def _check_files(ws, sealed: dict[str, dict], report: VerifyReport, workers: int | None) -> None:
    def check(item):
        rel, meta = item
        path = ws.root / rel
        try:
            digest, size = seal.file_sha256(path)
        except FileNotFoundError:
            return rel, "deleted", 0
        return rel, ("ok" if seal.same_digest(digest, meta["sha256"]) else "altered"), size

    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2) as pool:
        for rel, verdict, size in pool.map(check, sorted(sealed.items())):
            report.files += 1
            report.bytes += size
            if verdict != "ok":
                getattr(report, verdict).append(rel)


def _check_inserted(ws, sealed: dict[str, dict], report: VerifyReport) -> None:
    """Any data file in the lake or quarantine that no entry seals (readers would read it)."""
    for root in (ws.lake, ws.quarantine):
        if not root.is_dir():
            continue
        for path in root.rglob("*"):
            if not path.is_file() or path.name.startswith(".") or path.parent == manifest.manifest_dir(ws):
                continue
            rel = str(path.relative_to(ws.root))
            if rel not in sealed and (path.suffix == ".parquet" or PART_RE.match(path.name)
                                      or QUARANTINE_RE.match(path.name)):
                report.inserted.append(rel)
    report.inserted.sort()


def _check_head(ws, entries: list[dict], report: VerifyReport, verify_key: str | None) -> None:
    head = manifest.read_head(ws)
    report.head = head
    if head is None:
        if entries:
            report.chain.append("seals/head.json is missing")
        return
    if head.get("corrupt"):
        report.chain.append("seals/head.json is unreadable")
        return
    by_seq = {e["seq"]: e for e in entries}
    at = by_seq.get(int(head["seq"]))
    if at is None or not seal.same_digest(str(at.get("seal", "")), str(head["seal"])):
        report.chain.append(f"head names entry {head['seq']} with a seal the chain does not have "
                            f"(history truncated or rewritten)")
    elif entries and entries[-1]["seq"] != int(head["seq"]):
        report.chain.append(f"entries after the head ({entries[-1]['seq'] - int(head['seq'])}) were never recorded in it")
    if verify_key:
        report.signature = "valid" if head.get("signature") and seal.check_head_signature(verify_key, head) else "invalid"
    elif head.get("signature"):
        report.signature = "not checked (no verify key)"

