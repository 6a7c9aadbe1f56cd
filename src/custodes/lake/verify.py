"""``custodes verify``: recompute every seal. Reports stored files that were altered (hash
differs), deleted (sealed but gone) or inserted (anything in the lake or quarantine trees that
no entry seals: a file, a directory, a link), a broken chain (an entry edited, removed or
reordered), a head that disagrees with the chain, signatures that fail or are missing from a
signed chain, and heads recorded elsewhere (``--expect-head``, anchors) that the chain no longer
holds. Files are hashed in parallel threads (hashlib releases the GIL).

``sign=True`` (``custodes verify --sign``) then signs the chain with ``seal.signing_key``, only
if everything else verified: the way to start signing a lake that was unsigned, or to move to a
new key, after checking the history it vouches for.
"""

from __future__ import annotations

import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from custodes import anchor, contract
from custodes.errors import CustodesError
from custodes.lake import chain as chain_mod, manifest, seal
from custodes.workspace import Workspace


@dataclass
class VerifyReport:
    entries: int = 0
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    altered: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    inserted: list[str] = field(default_factory=list)
    chain: list[str] = field(default_factory=list)  # problems with the chain of entries and its head
    head: dict | None = None
    signature: str = chain_mod.UNSIGNED  # unsigned | valid | invalid | not checked (no verify key)
    signing: list[str] = field(default_factory=list)  # what made the signature verdict fail
    expected: list[str] = field(default_factory=list)  # --expect-head the chain does not hold
    anchor: list[str] = field(default_factory=list)  # anchored heads the chain does not hold
    anchored: int = 0  # anchored heads checked
    warnings: list[str] = field(default_factory=list)  # not failures: anchors still queued
    signed: bool = False  # --sign signed the chain

    @property
    def ok(self) -> bool:
        return not (self.altered or self.deleted or self.inserted or self.chain or self.signing
                    or self.expected or self.anchor) and self.signature in (chain_mod.UNSIGNED, chain_mod.VALID)

    def to_dict(self) -> dict:
        return dict(asdict(self), ok=self.ok, seconds=round(self.seconds, 3))


def verify(workspace: Workspace, verify_key: str | None = None, workers: int | None = None,
           expect_heads: list[tuple[int, str]] = (), anchors: list[str] = (), sign: bool = False) -> VerifyReport:
    started = time.perf_counter()
    report = VerifyReport()
    keys = seal.Keys.of(workspace, verify_key, signing=sign)
    if sign and keys.signer is None:
        raise CustodesError("custodes verify --sign needs seal.signing_key in custodes.yaml")
    with manifest.lock(workspace, exclusive=sign):
        report.warnings += anchor.flush(workspace)
        chain = chain_mod.read(workspace)
        _check_chain(chain, report)
        sealed = manifest.sealed_files(chain.entries)
        _check_files(workspace, sealed, report, workers)
        _check_inserted(workspace, sealed, report)
        _check_expected(chain, expect_heads, report)
        anchored_key = _check_anchors(workspace, chain, anchors, report)
        if sign and not (chain.signed or anchored_key) and chain.entries:
            report.signature = chain_mod.UNSIGNED  # adopting an unsigned chain: nothing to check yet
        else:
            report.signature, report.signing = chain_mod.signatures(chain, keys, anchored_key)
        if sign:
            _sign(workspace, chain, keys, report)
    report.seconds = time.perf_counter() - started
    return report


def _check_chain(chain, report: VerifyReport) -> None:
    report.entries = len(chain.entries)
    report.head = chain.head
    report.chain += chain.problems
    if chain.trailing and not chain.problems:
        report.chain.append("seals/head.json is missing" if chain.head is None else
                            f"entries after the head ({len(chain.trailing)}) were never recorded in it")


def _check_files(ws: Workspace, sealed: dict[str, dict], report: VerifyReport, workers: int | None) -> None:
    def check(item):
        rel, meta = item
        path = ws.root / rel
        if path.is_symlink():
            return rel, "altered", 0  # never written by the lake: a link to a copy is not the file
        try:
            digest, size = seal.file_sha256(path)
        except FileNotFoundError:
            return rel, "deleted", 0
        except IsADirectoryError:
            return rel, "altered", 0
        return rel, ("ok" if seal.same_digest(digest, meta["sha256"]) else "altered"), size

    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2) as pool:
        for rel, verdict, size in pool.map(check, sorted(sealed.items())):
            report.files += 1
            report.bytes += size
            if verdict != "ok":
                getattr(report, verdict).append(rel)


_DAY_DIR = re.compile(r"^date=\d{4}-\d{2}-\d{2}$")


def _check_inserted(ws: Workspace, sealed: dict[str, dict], report: VerifyReport) -> None:
    """Anything in the lake or quarantine trees that no entry seals and the layout does not
    name: a file, a link, a directory (``x.parquet/`` once broke every query). Staged dot-files
    of an ingest in flight or killed are not inserted: no reader opens them, and the next
    ingest removes them."""
    found = []
    for root in (ws.lake, ws.quarantine):
        for dirpath, dirnames, filenames in os.walk(root):
            here = Path(dirpath)
            for name in list(dirnames):
                path = here / name
                if path.is_symlink() or not _layout_dir(ws, path):
                    found.append(path)
                    dirnames.remove(name)  # reported as a whole
            for name in filenames:
                path = here / name
                rel = str(path.relative_to(ws.root))
                if rel in sealed and not path.is_symlink():
                    continue
                if _layout_file(ws, path):
                    continue
                found.append(path)
    report.inserted = sorted(str(p.relative_to(ws.root)) + ("/" if p.is_dir() and not p.is_symlink() else "")
                             for p in found)


def _layout_dir(ws: Workspace, path: Path) -> bool:
    parent = path.parent
    if parent in (ws.lake, ws.quarantine):
        return path.name in contract.DATASETS or path == manifest.manifest_dir(ws)
    return (parent.parent == ws.lake and parent.name in contract.EVENT_TIME_COLUMN
            and bool(_DAY_DIR.match(path.name)))


def _layout_file(ws: Workspace, path: Path) -> bool:
    if path.parent == manifest.manifest_dir(ws):
        return bool(manifest.ENTRY_NAME_RE.match(path.name) or manifest.torn_entry(path.name))
    if path == ws.lake / ".lock":
        return True
    return manifest.staged(path.name) and not path.is_symlink()


def _check_expected(chain, expect_heads, report: VerifyReport) -> None:
    for seq, head_hex in expect_heads:
        if not chain.holds(seq, head_hex):
            at = chain.by_seq.get(seq)
            report.expected.append(f"expected head {seq}:{head_hex[:16]}…: the chain "
                                   + ("has no entry " + str(seq) if at is None else "holds another seal there")
                                   + " (rolled back or rewritten)")


def _check_anchors(ws: Workspace, chain, given: list[str], report: VerifyReport) -> str | None:
    """Check the configured anchor file and every ``--anchor FILE``; returns the key fingerprint
    they recorded last (the one given on the command line wins). A configured anchor that holds
    nothing yet is no failure (nothing was anchored since it was set up); a file given on the
    command line must hold this workspace's heads."""
    def lookup(seq: int) -> str | None:
        at = chain.by_seq.get(seq)
        return str(at.get("seal", "")) if at is not None else None

    configured = anchor.sinks(ws).get("file")
    key = None
    for path, required in [(configured, False)] * bool(configured) + [(str(Path(p).resolve()), True) for p in given]:
        result = anchor.check(path, "lake", lookup, anchor.workspace_id(ws), require=required)
        report.anchored += result.records
        report.anchor += result.problems
        if result.key:
            if key and not seal.same_digest(key, result.key):
                report.anchor.append(f"{path}: records key {result.key[:16]}…, another anchor {key[:16]}…")
            key = result.key if required or key is None else key
    return key


def _sign(ws: Workspace, chain, keys: seal.Keys, report: VerifyReport) -> None:
    """Sign the head and the entries (every already signed one, so that a new key replaces the
    old, and the last) with ``seal.signing_key``, then anchor the head with its fingerprint."""
    if not report.ok or not chain.entries:
        return  # nothing is signed that did not verify
    last = chain.entries[-1]
    for entry in chain.entries:
        if entry.get("signature") or entry is last:
            manifest.write_entry(ws, dict(entry, signature=keys.sign_entry(entry["seq"], entry["seal"])))
    report.warnings += manifest.publish_head(ws, last, keys)
    report.signed = True
    report.signature = chain_mod.VALID
    report.signing = []
