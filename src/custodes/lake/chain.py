"""The chain of manifest entries, read and checked as one thing: each entry against its own
seal and its predecessor's, the seqs without a gap, the head against the chain, and the
signatures against the seal key.

``custodes ingest`` refuses to extend a chain with any problem found here, and ``custodes
verify`` reports them beside its files' checks. It reads the entries only, never a stored file,
so it costs the same at any lake size: it cannot see a sealed file altered between ingests
(that is verify's work, which hashes every file).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from custodes import anchor
from custodes.errors import CustodesError
from custodes.lake import manifest, seal
from custodes.workspace import Workspace


@dataclass
class Chain:
    entries: list[dict] = field(default_factory=list)
    head: dict | None = None
    problems: list[str] = field(default_factory=list)  # entries and head; signatures are apart

    @cached_property
    def by_seq(self) -> dict[int, dict]:
        return {e["seq"]: e for e in self.entries if isinstance(e.get("seq"), int)}

    @property
    def last(self) -> dict | None:
        return self.entries[-1] if self.entries else None

    @property
    def head_seq(self) -> int:
        return int(self.head["seq"]) if self.head and not self.head.get("corrupt") else 0

    @property
    def trailing(self) -> list[dict]:
        """Committed entries the head does not cover yet: a crash (or a failed head write)
        between a commit and its head. Repair adopts them only when they are signed."""
        return [e for e in self.entries if e["seq"] > self.head_seq]

    @property
    def signed(self) -> bool:
        return bool(self.head and self.head.get("signature")) or any(e.get("signature") for e in self.entries)

    def holds(self, seq: int, head_hex: str) -> bool:
        """Whether the chain has exactly this seal at this seq."""
        at = self.by_seq.get(seq)
        return at is not None and seal.same_digest(str(at.get("seal", "")), str(head_hex))


def read(ws: Workspace) -> Chain:
    chain = Chain()
    _read_entries(ws, chain)
    chain.head = manifest.read_head(ws)
    _check_head(chain)
    return chain


def _read_entries(ws: Workspace, chain: Chain) -> None:
    prev = seal.GENESIS
    expected = 1
    folder = manifest.manifest_dir(ws)
    for seq in manifest.committed_seqs(ws):
        try:
            entry = manifest.read_entry(folder / manifest.entry_name(seq))  # one folder, joined once
        except Exception as exc:  # noqa: BLE001 - any unreadable entry is a finding, not a crash
            chain.problems.append(f"entry {seq}: {exc}")
            prev, expected = None, seq + 1
            continue
        if seq != expected:
            gap = f"entry {expected}" if seq == expected + 1 else f"entries {expected} to {seq - 1}"
            chain.problems.append(f"{gap}: missing (next present is {seq})")
            prev = None  # the link into the gap cannot be checked: the gap is the one finding
        if entry.get("seq") != seq:
            chain.problems.append(f"entry {seq}: its content says seq {entry.get('seq')}")
            entry = dict(entry, seq=seq)
        if not seal.same_digest(str(entry.get("seal", "")), seal.entry_seal(entry)):
            chain.problems.append(f"entry {seq}: content does not match its seal (edited)")
        if prev is not None and not seal.same_digest(str(entry.get("prev", "")), prev):
            chain.problems.append(f"entry {seq}: does not follow the previous entry's seal (chain broken)")
        prev = str(entry.get("seal", ""))
        expected = seq + 1
        chain.entries.append(entry)


def _check_head(chain: Chain) -> None:
    head = chain.head
    if head is None:
        if len(chain.entries) > 1:  # only the very first commit can lose its head to a crash
            chain.problems.append("seals/head.json is missing")
        return
    if head.get("corrupt"):
        chain.problems.append("seals/head.json is unreadable")
        return
    if not chain.holds(int(head["seq"]), head["seal"]):
        chain.problems.append(f"head names entry {head['seq']} with a seal the chain does not have "
                              f"(history truncated or rewritten)")


#: verify's verdicts on the signatures
UNSIGNED, VALID, INVALID, NOT_CHECKED = "unsigned", "valid", "invalid", "not checked (no verify key)"


def signatures(chain: Chain, keys: seal.Keys, anchored_key: str | None = None,
               every_entry: bool = True) -> tuple[str, list[str]]:
    """(verdict, problems). A chain counts as signed once its head or any entry carries a
    signature, or an anchor recorded a key for it: then it needs a verify key, the head and
    every entry from the first signed one on (``every_entry``; else only the trailing ones, which
    repair would adopt) must verify under it, and the key must be the anchored one. A chain
    that carries no signature while a seal key is configured fails too: its signatures may have
    been stripped (a new signing setup is adopted with ``custodes verify --sign``)."""
    if not chain.entries and chain.head is None:
        return UNSIGNED, []
    if not (chain.signed or anchored_key):
        if keys.verifier is None:
            return UNSIGNED, []
        return INVALID, [f"the chain carries no signature but {keys.verifier_source} names a seal key "
                         f"(signatures stripped, or signing newly set up: check it, then custodes verify --sign)"]
    if keys.verifier is None:
        return NOT_CHECKED, ["the chain is signed but no verify key is configured (seal.verify_key removed?)"]
    problems = []
    if anchored_key and not seal.same_digest(anchored_key, keys.fingerprint):
        problems.append(f"the verify key of {keys.verifier_source} (fingerprint {keys.fingerprint[:16]}…) is not "
                        f"the key the anchor recorded ({anchored_key[:16]}…)")
    if chain.head is not None and not keys.head_valid(chain.head):
        problems.append("head: " + ("signature invalid" if chain.head.get("signature") else "unsigned in a signed chain"))
    for e in _signed_part(chain) if every_entry else chain.trailing:
        if not keys.entry_valid(e):
            problems.append(f"entry {e['seq']}: " + ("signature invalid" if e.get("signature")
                                                      else "unsigned after signed entries"))
    return (INVALID if problems else VALID), problems


def _signed_part(chain: Chain) -> list[dict]:
    """The entries from the first signed one on (earlier ones predate signing; the signatures
    after them cover them through the chain)."""
    first = next((i for i, e in enumerate(chain.entries) if e.get("signature")), len(chain.entries))
    return chain.entries[first:]


# Ingest's side ------------------------------------------------------------------------------

@dataclass
class Opened:
    chain: Chain
    keys: seal.Keys
    removed: int  # leftovers of a crashed ingest removed
    warnings: list[str]


def open_for_ingest(ws: Workspace) -> Opened:
    """Under the ingest lock, before anything changes: refuse (CustodesError, one line ending
    "run custodes verify") a chain that does not check out; then remove a crashed ingest's
    leftovers above the head, move a lagging head over signed trailing entries, and send what
    waits to be anchored."""
    keys = seal.Keys.of(ws)
    targets = anchor.sinks(ws)  # a bad anchor setting fails here, before anything changes
    chain = read(ws)
    anchored = anchor.last(targets["file"], "lake", anchor.workspace_id(ws)) if "file" in targets else None
    refusal = ingest_refusal(chain, keys, anchored)
    if refusal:
        raise CustodesError(f"ingest refused: {refusal}; run custodes verify")
    last = chain.last
    removed = manifest.recover(ws, last["seq"] if last else 0, set(manifest.sealed_files(chain.entries)))
    if chain.trailing:
        try:
            warnings = manifest.publish_head(ws, last, keys)
        except OSError as exc:  # the entries are committed: the head catches up on a later ingest
            warnings = [f"the seal head could not be moved to seq {last['seq']} ({exc.strerror or exc})"]
    elif last is not None and "file" in targets and anchored is None and not anchor.pending(ws):  # a new anchor
        warnings = anchor.record(ws, "lake", last["seq"], last["seal"], keys.fingerprint)
    else:
        warnings = anchor.flush(ws, targets)
    return Opened(chain, keys, len(removed), warnings)


def ingest_refusal(chain: Chain, keys: seal.Keys, anchored: dict | None = None) -> str | None:
    """Why an ingest must not extend this chain, or None. Entries and head only (see the module
    docstring): the head's signature, and the trailing entries' that repair would adopt."""
    if chain.problems:
        return chain.problems[0]
    mismatch = keys.pair_problem()
    if mismatch:
        return mismatch
    if anchored is not None and not chain.holds(int(anchored["seq"]), anchored["head"]):
        return (f"the anchor's last lake head (seq {anchored['seq']}, {anchored.get('time')}) is not in the "
                f"chain (rolled back or rewritten)")
    _, problems = signatures(chain, keys, anchored.get("key") if anchored else None, every_entry=False)
    if problems:
        return problems[0]
    if chain.signed and keys.signer is None:
        return "the chain is signed but seal.signing_key is not set (an unsigned entry would break it)"
    return None
