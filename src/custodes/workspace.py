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

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from custodes.errors import CustodesError

DEFAULT_WORKSPACE = "./custodes-data"
ENV_WORKSPACE = "CUSTODES_WORKSPACE"


def resolve_workspace_path(given: str | os.PathLike | None) -> Path:
    if given:
        return Path(given)
    return Path(os.environ.get(ENV_WORKSPACE) or DEFAULT_WORKSPACE)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) readable by the owner only."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def private_open(path: Path, mode: str = "w", **kwargs):
    """Open a file for writing created 0600 from the start (no window where it is world-readable)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its old mode through os.open; fix it
    return os.fdopen(fd, mode, **kwargs)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so that a crash leaves either the old or the new content, never a torn one."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with private_open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk must not leave the half-written copy behind
        raise


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def open(cls, given: str | os.PathLike | None = None, create: bool = True) -> "Workspace":
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
        """The operator's configuration, or {} when there is none. Strict: a file that is not
        a YAML mapping is an error, never silently ignored."""
        path = self.config_path
        if not path.exists():
            return {}
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise CustodesError(f"{path}: not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise CustodesError(f"{path}: expected a mapping at the top level")
        return data

    def setting(self, dotted: str, default: Any = None) -> Any:
        node: Any = self.config()
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node


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
