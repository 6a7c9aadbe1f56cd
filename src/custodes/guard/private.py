"""Files and directories that hold customer ids (access events, the SQLite ledger): readable by
this user alone, and never someone else's.

A directory or file another local user created beforehand (in /tmp, in a shared
/var/lib/...) would let that user read what the guard writes, or, for a ledger, add tokens to
it. So an existing one is taken only when this user owns it, and its mode is tightened (0700
for a directory, 0600 for a file); anything else is refused with one clear line.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from custodes.errors import CustodesError


def _refuse_foreign(path: Path, st: os.stat_result, what: str) -> None:
    if st.st_uid != os.geteuid():
        raise CustodesError(f"{path}: the {what} belongs to uid {st.st_uid}, not to this user "
                            f"(uid {os.geteuid()}): its owner could read or change what custodes "
                            "keeps there; give a path this user owns")


def make_missing_directories(path: Path) -> None:
    """Create ``path`` and its missing parents, each 0700 (``mkdir(parents=True)`` would give
    the parents 0755); existing ones are left as they are."""
    for directory in [*reversed(path.parents), path]:
        if not directory.exists():
            try:
                directory.mkdir(mode=0o700)
            except FileExistsError:
                pass


def private_directory(path: str | Path, what: str = "directory") -> Path:
    """``path`` as a directory only this user can enter: created 0700 with its missing parents
    (also 0700), or, when it exists, owned by this user and tightened to 0700."""
    path = Path(path)
    try:
        make_missing_directories(path)
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except NotADirectoryError:
        raise CustodesError(f"{path}: the {what} is not a directory") from None
    except OSError as exc:
        raise CustodesError(f"{path}: cannot create or open the {what}: "
                            f"{exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        _refuse_foreign(path, st, what)
        if stat.S_IMODE(st.st_mode) != 0o700:
            os.fchmod(fd, 0o700)  # a pre-created 0755 (or 0777) directory is tightened
    except OSError as exc:
        raise CustodesError(f"{path}: cannot make the {what} private: {exc.strerror}") from None
    finally:
        os.close(fd)
    return path


def private_existing_file(path: str | Path, what: str = "file") -> bool:
    """When ``path`` exists: check that it is a regular file this user owns and tighten it to
    0600; returns whether it exists."""
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise CustodesError(f"{path}: cannot read the {what}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise CustodesError(f"{path}: the {what} is not a regular file")
    _refuse_foreign(path, st, what)
    if stat.S_IMODE(st.st_mode) & 0o077:
        try:
            os.chmod(path, 0o600)
        except OSError as exc:
            raise CustodesError(f"{path}: cannot make the {what} private: {exc.strerror}") from None
    return True


def create_private_file(path: str | Path, what: str = "file") -> None:
    """Create ``path`` empty and 0600, failing if anything (a file, a link) is already there."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
    except OSError as exc:
        raise CustodesError(f"{path}: cannot create the {what}: {exc.strerror}") from None
