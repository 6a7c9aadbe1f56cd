"""Writing a file where someone else may have put something first.

Exports (``--out``, ``--accounts-out``, reports) land in directories the operator names, which
may be shared (``/tmp``) and may hold a symlink or a file another user created, waiting to be
written through. So the target itself is never opened. The content goes to a temporary file
beside it with a random name, created exclusively (``O_CREAT|O_EXCL``), never through a link
(``O_NOFOLLOW``), mode 0600, and checked (``fstat``) to be a regular file the caller owns; it is
flushed to disk and only then renamed into place. An existing target is refused unless the
caller asks to replace it (``force``), and even then a symlink or anything but a regular file is
refused: rename replaces the directory entry, so a file planted by another user is never
written into and keeps none of the new content.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from custodes.errors import CustodesError

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
#: errors of os.link that mean "this file system cannot do it", not "the target exists"
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.EXDEV, errno.EACCES}


def check_target(path: Path, force: bool = False) -> None:
    """Refuse, before any work is done, a target custodes would not write: a directory that does
    not exist, an existing file without ``force``, and a symlink or special file ever."""
    path = Path(path)
    if not path.parent.is_dir():
        raise CustodesError(f"{path}: directory {path.parent} does not exist")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise CustodesError(f"{path}: cannot check it: {exc.strerror}") from None
    if stat.S_ISLNK(st.st_mode):
        raise CustodesError(f"{path} is a symbolic link; custodes never writes through one: "
                            "remove it or name another file")
    if not stat.S_ISREG(st.st_mode):
        raise CustodesError(f"{path} exists and is not a regular file")
    if not force:
        raise CustodesError(f"{path} exists; pass --force to replace it")


class _Sink:
    """The temporary file being written: text or bytes, with the SHA-256 of what went in."""

    def __init__(self, fh, text: bool):
        self._fh, self._text, self._hash = fh, text, hashlib.sha256()

    def write(self, data) -> int:
        self._hash.update(data.encode("utf-8") if self._text else data)
        return self._fh.write(data)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


#: The name :func:`_create_temp` gives: a dot, the target's name, 16 hex digits, ``.tmp``.
_TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.[0-9a-f]{16}\.tmp$")
#: The name custodes gave before (``.NAME.tmp-PID``): a workspace written by an older version may hold one.
_OLD_TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.tmp-\d+$")


def temp_target(name: str) -> str | None:
    """The name of the file that a temporary file called ``name`` was to replace (what a write
    killed before its rename leaves; names up to 180 characters); None for any other name."""
    found = _TEMP_NAME.match(name) or _OLD_TEMP_NAME.match(name)
    return found.group("target") if found else None


def _create_temp(target: Path) -> tuple[int, Path]:
    stem = target.name[:180]
    for _ in range(16):
        tmp = target.with_name(f".{stem}.{secrets.token_hex(8)}.tmp")
        try:
            fd = os.open(tmp, _CREATE, 0o600)
        except FileExistsError:
            continue  # someone holds that name: take another, never reuse theirs
        except OSError as exc:
            raise CustodesError(f"{target}: cannot write in {target.parent}: {exc.strerror}") from None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
            os.close(fd)
            raise CustodesError(f"{target}: the temporary file {tmp.name} is not a regular file of ours")
        os.fchmod(fd, 0o600)
        return fd, tmp
    raise CustodesError(f"{target}: no free temporary name in {target.parent}")


def _publish(tmp: Path, target: Path, force: bool) -> None:
    if force:
        check_target(target, force=True)
        os.replace(tmp, target)
        return
    try:  # link, unlike rename, fails when the target exists: no window between check and write
        os.link(tmp, target, follow_symlinks=False)
    except FileExistsError:
        check_target(target)  # raises with the reason
        raise
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        check_target(target)
        os.rename(tmp, target)
        return
    os.unlink(tmp)


def fsync_dir(directory: Path, *, strict: bool = True) -> None:
    """Make a directory's entries (a file created, renamed or removed in it) durable.

    ``strict=False`` for a best effort: a file system that cannot sync a directory, or a
    directory that cannot be opened, is not an error (the data itself was already synced)."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        if strict:
            raise
        return
    try:
        os.fsync(fd)
    except OSError:
        if strict:
            raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def output_file(path: Path, *, force: bool = False, text: bool = True) -> Iterator[_Sink]:
    """Write ``path`` safely (see the module docstring): yields a sink with ``write`` (str when
    ``text``, else bytes) and, once written, ``sha256``. Nothing appears at ``path`` unless the
    block completes; a failure leaves no temporary file behind."""
    target = Path(path)
    check_target(target, force)
    fd, tmp = _create_temp(target)
    try:
        with os.fdopen(fd, "w" if text else "wb", **({"encoding": "utf-8", "newline": ""} if text else {})) as fh:
            sink = _Sink(fh, text)
            yield sink
            fh.flush()
            os.fsync(fh.fileno())
        _publish(tmp, target, force)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise CustodesError(f"{target}: cannot write it: {exc.strerror or exc}") from None
        raise
    fsync_dir(target.parent, strict=False)


def replace_file(path: Path, data: bytes, sync: bool = True) -> None:
    """Replace one of custodes's own files so that a crash leaves the old or the new content,
    never a torn one: a random temporary name (not a predictable one another user could claim
    first), fsync, rename. ``sync=False`` skips the fsync, for derived data that is recomputed
    when a power cut tears it."""
    target = Path(path)
    fd, tmp = _create_temp(target)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_output(path: Path, data: bytes, *, force: bool = False) -> str:
    """Write ``data`` to ``path`` as :func:`output_file` does; returns its SHA-256."""
    with output_file(path, force=force, text=False) as out:
        out.write(data)
    return out.sha256
