"""Which files a ``custodes ingest`` command names (files, directories recursively, globs), and
which of them the manifest has recorded already (``SourceIndex``)."""

from __future__ import annotations

import glob
import hashlib
from dataclasses import dataclass
from pathlib import Path

from custodes.errors import CustodesError
from custodes.lake.readers.source import HEAD_BYTES, Known


@dataclass(frozen=True)
class Found:
    path: Path
    named: bool  # named on the command line, not found in a folder or by a glob


def expand(paths: list[str | Path]) -> list[Found]:
    out: list[Found] = []
    for given in paths:
        text = str(given)
        p = Path(text)
        if p.is_dir():
            found = [Found(f, False) for f in sorted(p.rglob("*")) if f.is_file() and not f.name.startswith(".")]
        elif p.is_file():
            found = [Found(p, True)]
        elif glob.has_magic(text):
            found = [Found(Path(f), False) for f in sorted(glob.glob(text, recursive=True)) if Path(f).is_file()]
        else:
            raise CustodesError(f"{text}: no such file or directory")
        if not found:
            raise CustodesError(f"{text}: matches no files")
        out.extend(found)
    seen, unique = set(), []
    for f in out:
        key = f.path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


class SourceIndex:
    """The sources one dataset has recorded, by content: by the SHA-256 of what was loaded,
    and by the SHA-256 of their first bytes (``HEAD_BYTES``, or fewer for a shorter source), so
    that a file starting with a recorded source is found without reading more than its head.
    Entries from before sources recorded their head are found by their whole hash only."""

    def __init__(self, dataset: str, entries: list[dict]):
        self.dataset = dataset
        self._by_sha: dict[str, int] = {}
        self._by_head: dict[tuple[int, str], list[Known]] = {}
        self._lengths: set[int] = set()  # the head lengths recorded (HEAD_BYTES, or a short source's)
        for entry in entries:
            self.add(entry)

    def add(self, entry: dict) -> None:
        src = entry.get("source") or {}
        if entry.get("dataset") != self.dataset or "sha256" not in src:
            return
        self._by_sha[src["sha256"]] = entry["seq"]
        if "head_sha256" in src and src.get("bytes"):
            k = min(HEAD_BYTES, int(src["bytes"]))
            self._lengths.add(k)
            self._by_head.setdefault((k, src["head_sha256"]), []).append(
                Known(entry["seq"], int(src["bytes"]), src["sha256"], src.get("format", ""), src.get("last_row")))

    def seq_of(self, sha256: str) -> int | None:
        return self._by_sha.get(sha256)

    def candidates(self, head: bytes, size: int) -> list[Known]:
        """Recorded sources no longer than ``size`` whose first bytes are ``head``'s."""
        out = []
        for k in sorted(k for k in self._lengths if k <= len(head)):
            out += self._by_head.get((k, hashlib.sha256(head[:k]).hexdigest()), [])
        return [c for c in out if c.bytes <= size]
