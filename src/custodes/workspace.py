"""Where a workspace keeps what.

A workspace is one directory (``--workspace DIR``, else ``$CUSTODES_WORKSPACE``, else
``./custodes-data``)::

    custodes.yaml          operator configuration (optional; see README)
    lake/<dataset>/        stored partitions: lake/access/date=2025-04-14/part-*.parquet
    lake/_manifest/        content-addressed record of every ingested file (idempotent ingest)
    quarantine/<dataset>/  rows that failed validation, with file, row, column and reason
    seals/                 per-partition SHA-256 seals, chained per day; signed heads
    detect/                detection state, findings, incidents
    respond/               scope exports, reports, offboarding records, export audit log
    guard/                 access events written by the guard

Files that hold personal data are created with mode 0600 and directories 0700.
"""

from __future__ import annotations

import copy
import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from custodes.config.problem import refuse
from custodes.errors import CustodesError
from custodes.safefile import replace_file
from custodes.yamlfile import load_yaml

DEFAULT_WORKSPACE = "./custodes-data"
ENV_WORKSPACE = "CUSTODES_WORKSPACE"


def resolve_workspace_path(given: str | os.PathLike | None) -> Path:
    if given:
        return Path(given)
    return Path(os.environ.get(ENV_WORKSPACE) or DEFAULT_WORKSPACE)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) readable by the owner only, or make an existing one
    so: a directory custodes keeps private data in is tightened to 0700, and refused when another
    user owns it (they could read, or swap, whatever custodes writes there)."""
    path = Path(path)
    missing = []
    for parent in (path, *path.parents):
        if parent.exists():
            break
        missing.append(parent)
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:
            pass  # created meanwhile by another process: checked below like any existing one
        except OSError as exc:
            raise CustodesError(f"cannot create directory {directory}: {exc.strerror}") from None
    _own_and_private(path)
    return path


def _own_and_private(path: Path) -> None:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise CustodesError(f"{path}: {exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise CustodesError(f"{path} is not a directory")
    if st.st_uid != os.geteuid():
        raise CustodesError(f"directory {path} belongs to uid {st.st_uid}, not to the user running custodes "
                            f"(uid {os.geteuid()}); refusing to keep private data there: run custodes as its "
                            "owner, or remove it")
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(path, stat.S_IMODE(st.st_mode) & 0o700)


def private_open(path: Path, mode: str = "w", **kwargs):
    """Open one of custodes's own files for writing, created 0600 from the start (no window where
    it is world-readable), never through a symlink, and only when it is a regular file."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise CustodesError(f"{path} is a symbolic link; custodes never writes through one") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise CustodesError(f"{path} is not a regular file")
    os.fchmod(fd, 0o600)  # an existing file keeps its old mode through os.open; fix it
    return os.fdopen(fd, mode, **kwargs)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so that a crash leaves either the old or the new content, never a torn one."""
    replace_file(path, data)


@dataclass(frozen=True)
class Workspace:
    root: Path
    #: what was read once (the configuration, keyed by the file's version); not part of identity
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def open(cls, given: str | os.PathLike | None = None, create: bool = True) -> Workspace:
        root = resolve_workspace_path(given)
        if root.exists() and not root.is_dir():
            raise CustodesError(f"workspace {root} is not a directory")
        if create:
            private_dir(root)
        return cls(root)

    # Places -------------------------------------------------------------------------------
    @property
    def lake(self) -> Path:
        return self.root / "lake"

    def dataset_dir(self, dataset: str) -> Path:
        return self.lake / dataset

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def seals(self) -> Path:
        return self.root / "seals"

    @property
    def detect(self) -> Path:
        return self.root / "detect"

    @property
    def respond(self) -> Path:
        return self.root / "respond"

    @property
    def guard(self) -> Path:
        return self.root / "guard"

    def subdir(self, name: str) -> Path:
        return private_dir(self.root / name)

    # Configuration ------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.root / "custodes.yaml"

    def config(self) -> dict[str, Any]:
        """The operator's configuration, or {} when there is none, checked against its schema
        (:mod:`custodes.config`): any problem anywhere in the file is a CustodesError listing
        every one, one line each."""
        raw, problems = self._checked_config()
        refuse(self.config_path, problems)
        return copy.deepcopy(raw)  # the caller's to change (demo adds its sources); the cache stays as read

    def config_problems(self) -> list[str]:
        """Every problem of custodes.yaml, one line each (the file's name first); [] when none."""
        try:
            _, problems = self._checked_config()
        except CustodesError as exc:
            return [str(exc)]
        return [f"{self.config_path}: {p.text}" for p in problems]

    def setting(self, dotted: str, default: Any = None) -> Any:
        """One key of the configuration (``"seal.anchor"``), or ``default`` when it is not set.
        A problem in the key's section (or an unknown top-level key, which may be the section
        misspelt) is an error; problems of other sections are theirs to report, so that one
        broken alert sink does not stop detection in ``custodes watch``."""
        raw, problems = self._checked_config()
        section = dotted.split(".")[0]
        refuse(self.config_path, [p for p in problems if p.section in (None, section)])
        node: Any = raw
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return copy.deepcopy(node)

    def _checked_config(self) -> tuple[dict[str, Any], list]:
        """The file read and checked once per version of it (a long-running service sees edits)."""
        from custodes.config import problems

        path = self.config_path
        try:
            st = path.stat()
            version = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        except FileNotFoundError:
            version = None
        cached = self._cache.get("config")
        if cached is not None and cached[0] == version:
            return cached[1], cached[2]
        raw = {} if version is None else (load_yaml(path, "configuration") or {})
        if not isinstance(raw, dict):
            raise CustodesError(f"{path}: expected a mapping at the top level")
        found = problems(raw)
        self._cache["config"] = (version, raw, found)
        return raw, found


def named(items: list, kind: str, where: str) -> dict[str, Any]:
    """Configured items (alert sinks, watch sources) by name: their ``name`` when given, else
    their ``kind`` attribute (``type``, ``dataset``), numbered when it repeats (``file-1``,
    ``file-2``). Two items with one name are an error naming ``where`` they are configured."""
    kinds = [getattr(item, kind) for item in items]
    seen: dict[str, int] = {}
    out: dict[str, Any] = {}
    for item, k in zip(items, kinds):
        seen[k] = seen.get(k, 0) + 1
        name = item.name or (k if kinds.count(k) == 1 else f"{k}-{seen[k]}")
        if name in out:
            raise CustodesError(f"custodes.yaml: {where}: two are named {name!r}")
        out[name] = item
    return out
