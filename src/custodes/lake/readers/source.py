"""One input file, opened once: the handle every reader reads through, and the SHA-256 of
exactly the bytes read, taken in the same pass.

Hashing the file apart from reading it (another open, another pass) let the two disagree: a log
truncated by logrotate's ``copytruncate`` while it was ingested got the hash of the whole file
recorded for the rows of a truncated read, and the rotated copy was then skipped as "already
ingested" (269,439 rows lost in one try). Here the readers hand each block they read to
``consume`` in file order, and a hashing thread folds it in while the next block is parsed; the
file's size, inode and modification time are compared at the start and the end, and a file that
changed while it was read loads nothing (``SourceChanged``).

Line-based sources (CSV, JSON Lines) are read only up to their last complete record: the bytes
after the last newline (a line still being written) are held back, neither loaded nor
quarantined, and the hash covers ``[0, consumed)``. A later file whose first ``consumed`` bytes
hash the same (the same file grown, or its rotated copy) is read from there on
(``skip_known_prefix``): rows loaded once are never loaded again.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from custodes.errors import CustodesError

#: Recorded sources are found by the hash of their first bytes (``lake.sources.SourceIndex``).
HEAD_BYTES = 4096
CHUNK = 4 << 20


class SourceChanged(CustodesError):
    """The file changed while it was read: nothing of it is loaded."""


@dataclass(frozen=True)
class Known:
    """A recorded source: its first ``bytes`` bytes hash to ``sha256`` and were loaded by
    ``seq``, numbering rows up to ``last_row`` (None: not a line-based read)."""

    seq: int
    bytes: int
    sha256: str
    format: str
    last_row: int | None = None


class SourceFile:
    """An open input file (regular files only), read with ``pread`` at explicit offsets and never
    past the size it had when it was opened."""

    def __init__(self, path, fd: int, st: os.stat_result):
        self.path = path
        self.fd = fd
        self.size = st.st_size
        self._identity = _identity(st)
        self.head = os.pread(fd, min(HEAD_BYTES, self.size), 0)
        self.start = 0  # reading starts here (after a known prefix)
        self.first_row = 0  # rows numbered before ``start``
        self.resumed: Known | None = None
        self.consumed = 0  # bytes [0, consumed) are hashed (or queued to be)
        self.held_back = 0  # bytes after the last complete record, left for a later ingest
        self.last_row: int | None = None  # line-based readers: the last row number consumed
        self._hash = hashlib.sha256()
        self._hashing: list[Future] = []
        self._hasher = ThreadPoolExecutor(1, thread_name_prefix="custodes-hash")

    @classmethod
    def open(cls, path) -> SourceFile:
        # O_NONBLOCK: a FIFO put in a file's place after the listing must not hang the open
        # (it is then refused below); reads of a regular file ignore the flag.
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise CustodesError(f"{path}: not a regular file")
            return cls(path, fd, st)
        except BaseException:
            os.close(fd)
            raise

    def close(self) -> None:
        self._hasher.shutdown(wait=True)
        os.close(self.fd)

    def __enter__(self) -> SourceFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # Reading ------------------------------------------------------------------------------------
    def read_into(self, view: memoryview, offset: int) -> int:
        """Fill ``view`` from ``offset``; fewer bytes at the end of the file as opened."""
        n = min(len(view), self.size - offset)
        if n <= 0:
            return 0
        return os.preadv(self.fd, [view[:n]], offset)

    def pread(self, n: int, offset: int) -> bytes:
        return os.pread(self.fd, max(0, min(n, self.size - offset)), offset)

    # Hashing ------------------------------------------------------------------------------------
    def consume(self, data) -> None:
        """Fold ``data``, the bytes right after those consumed so far, into the hash (on the
        hashing thread, in order). ``data`` must not change afterwards: readers hand over
        blocks they never write to again."""
        if len(data):
            self._hashing.append(self._hasher.submit(self._hash.update, data))
            self.consumed += len(data)

    def consume_rest(self) -> None:
        """Hash the file from ``consumed`` to its end (a Parquet file after its last read)."""
        while self.consumed < self.size:
            chunk = self.pread(CHUNK, self.consumed)
            if not chunk:
                break  # shorter than when it was opened: check_unchanged says so
            self.consume(chunk)

    def hold_back(self, n: int) -> None:
        """The last ``n`` bytes read end in the middle of a record: they are not part of this
        ingest (a later one of the grown file, or of its rotated copy, takes them)."""
        self.held_back = n

    def sha256(self) -> str:
        """SHA-256 of the bytes consumed, ``[0, consumed)``."""
        for future in self._hashing:
            future.result()
        self._hashing.clear()
        return self._hash.hexdigest()

    def whole_sha256(self) -> str:
        """SHA-256 of ``[0, size)``: with the held-back bytes too (what entries written before
        lines were held back recorded for such a file)."""
        self.sha256()
        whole = self._hash.copy()
        whole.update(self.pread(self.held_back, self.consumed))
        return whole.hexdigest()

    def head_sha256(self) -> str:
        return hashlib.sha256(self.head[:min(HEAD_BYTES, self.consumed)]).hexdigest()

    def skip_known_prefix(self, known: list[Known]) -> Known | None:
        """Of the recorded sources whose first bytes this file may share (``known``, each no
        longer than this file), the longest one this file really starts with: its bytes are
        hashed here, and reading starts after them. Several candidates are checked in one pass
        (the same file recorded at several lengths, as it grew)."""
        h = hashlib.sha256()
        pos, best, state = 0, None, None
        for cand in sorted(known, key=lambda k: k.bytes):
            while pos < cand.bytes:
                chunk = self.pread(min(CHUNK, cand.bytes - pos), pos)
                if not chunk:
                    break
                h.update(chunk)
                pos += len(chunk)
            if pos == cand.bytes and hmac.compare_digest(h.hexdigest(), cand.sha256):
                best, state = cand, h.copy()
        if best is not None:
            self._hash, self.consumed, self.start, self.resumed = state, best.bytes, best.bytes, best
            self.first_row = best.last_row or 0
        return best

    # The end ------------------------------------------------------------------------------------
    def check_unchanged(self) -> None:
        """SourceChanged unless the file still has the size and modification time it had when
        it was opened, and every byte up to that size was read."""
        now = _identity(os.fstat(self.fd))
        if now != self._identity:
            raise SourceChanged(f"{self.path}: changed while it was read ({_what_changed(self._identity, now)}); "
                                f"nothing loaded from it: ingest it again once it is complete (a log rotated "
                                f"with copytruncate: ingest the rotated copy too, each row loads once)")
        if self.consumed + self.held_back != self.size:
            raise SourceChanged(f"{self.path}: {self.size - self.consumed - self.held_back} bytes could not be read "
                                f"(the file shrank while it was read?); nothing loaded from it")

    def record(self, fmt: str) -> dict:
        """What the manifest entry keeps of this source (``entry["source"]``)."""
        out = {"path": str(self.path.resolve()), "format": fmt, "sha256": self.sha256(), "bytes": self.consumed,
               "size": self.size, "head_sha256": self.head_sha256()}
        if self.last_row is not None:
            out["last_row"] = self.last_row
        if self.resumed is not None:
            out.update(start=self.start, continues=self.resumed.seq)
        return out


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _what_changed(before: tuple, after: tuple) -> str:
    if before[2] != after[2]:
        verb = "truncated" if after[2] < before[2] else "grew"
        return f"{verb} from {before[2]} to {after[2]} bytes"
    return "rewritten: its modification time changed"
