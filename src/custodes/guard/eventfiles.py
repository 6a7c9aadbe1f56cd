"""The access-event files on disk: written hidden, published whole, recovered after a crash.

A file is written as ``.access-<name>.jsonl.part`` (hidden, with an extension no reader takes)
and renamed to ``access-<name>.jsonl`` when finished, so whatever picks up ``access-*.jsonl``
(``custodes ingest access DIR``, ``custodes watch``) only ever sees whole files.

Its writer holds an exclusive ``flock`` on the ``.part`` for as long as it writes. The kernel
drops that lock when the process dies, however it dies (``kill -9`` included), so "nobody holds
the lock" is exactly "its writer is gone", whatever became of its pid (in a container, the next
guard often gets the same one). :func:`recover_parts` finishes such files: cut at the last
newline (a line torn by the crash is dropped), renamed like any finished file.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

log = logging.getLogger("custodes.guard")

PART_PATTERN = ".access-*.jsonl.part"
_OPEN = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def finished_name(part: Path) -> Path:
    """``.access-X.jsonl.part`` -> ``access-X.jsonl``."""
    return part.with_name(part.name[1:-len(".part")])


class PartFile:
    """One events file being written, locked by this process until it is finished."""

    def __init__(self, directory: Path, name: str):
        self.path = directory / name  # the finished name
        self.part = directory / f".{name}.part"
        fd = os.open(self.part, _OPEN, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.stat(self.part).st_ino != os.fstat(fd).st_ino:
                raise FileNotFoundError(f"{self.part} was taken away before it was locked")
        except OSError:
            os.close(fd)
            raise
        self.file = os.fdopen(fd, "wb", buffering=1 << 16)
        self.size = 0

    def write(self, data: bytes) -> None:
        self.file.write(data)
        self.size += len(data)

    def flush(self) -> None:
        self.file.flush()

    def finish(self) -> Path | None:
        """Publish the file (or remove it when nothing was written); renamed while still
        locked, so a recovering process never races the rename."""
        try:
            self.file.flush()
            if self.size:
                os.fsync(self.file.fileno())
                os.replace(self.part, self.path)
                return self.path
            self.part.unlink(missing_ok=True)
            return None
        finally:
            self.file.close()


def recover_parts(directory: str | Path) -> list[Path]:
    """Finish every ``.part`` in ``directory`` whose writer is gone; files still being written
    (locked) are left alone, so this is safe to run at any time, from any process."""
    recovered = []
    for part in sorted(Path(directory).glob(PART_PATTERN)):
        try:
            done = _recover(part)
        except OSError as exc:  # one unreadable file must not keep the guard from starting
            log.warning("custodes guard: cannot recover %s: %s", part, exc)
            continue
        if done is not None:
            recovered.append(done)
    return recovered


def _recover(part: Path) -> Path | None:
    try:
        fd = os.open(part, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:  # gone meanwhile (its writer finished it), or not a plain file
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None  # its writer is alive
        st = os.fstat(fd)
        try:
            if os.stat(part).st_ino != st.st_ino:
                return None  # finished and replaced between our open and our lock
        except FileNotFoundError:
            return None
        if st.st_uid != os.geteuid():
            return None  # not ours to publish (the directory is private: should not happen)
        keep = _after_last_newline(fd, st.st_size)
        if keep == 0:
            os.unlink(part)  # nothing whole in it
            return None
        os.ftruncate(fd, keep)
        os.fchmod(fd, 0o600)
        os.fsync(fd)
        done = finished_name(part)
        os.replace(part, done)
        return done
    finally:
        os.close(fd)


def _after_last_newline(fd: int, size: int, chunk: int = 1 << 16) -> int:
    """The length of the file up to and including its last newline (0 when it has none)."""
    end = size
    while end > 0:
        start = max(0, end - chunk)
        data = os.pread(fd, end - start, start)
        i = data.rfind(b"\n")
        if i >= 0:
            return start + i + 1
        end = start
    return 0
