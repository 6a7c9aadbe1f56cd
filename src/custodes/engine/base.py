"""What every engine offers the capabilities above it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import ibis
import pyarrow as pa

from custodes.contract import DATASET_NAMES, PRIMARY_KEYS
from custodes.engine import lakefiles
from custodes.errors import CustodesError
from custodes.lake.manifest import committed_seqs, entry_path, read_entry
from custodes.workspace import Workspace


class Engine:
    """Tables of a workspace's lake as Ibis expressions.

    ``table(name)`` returns every stored row of a dataset: the contract columns, the
    ``<column>_key`` companions of :mod:`custodes.ids`, and the lake's own columns (``_seq``:
    the ingest sequence that stored the row). Subclasses set ``name`` and implement
    ``_open_parquet`` and ``_register_arrow``.
    """

    name: str = "?"

    def __init__(self, workspace: Workspace | None = None):
        self.workspace = workspace
        self.con = self._connect()
        self._tables: dict[str, ibis.Table] = {}
        self._sealed: dict[str, list[str]] | None = None  # dataset -> sealed files, read once

    # To implement -------------------------------------------------------------------------
    def _connect(self) -> Any:
        raise NotImplementedError

    def _open_parquet(self, name: str, files: list[Path]) -> ibis.Table:
        raise NotImplementedError

    def _register_arrow(self, name: str, table: pa.Table) -> ibis.Table:
        raise NotImplementedError

    # Shared -------------------------------------------------------------------------------
    def files(self, dataset: str) -> list[Path]:
        """The stored files of ``dataset`` that committed manifest entries seal, and only those:
        never a glob, which a planted file, a directory named ``x.parquet`` or the parts of an
        ingest not yet committed would join. (A sealed file that is gone is left out; verify
        reports it.)"""
        if self.workspace is None:
            return []
        if self._sealed is None:
            self._sealed = _sealed_by_dataset(self.workspace)
        root = self.workspace.root
        return sorted(root / rel for rel in self._sealed.get(dataset, ()) if (root / rel).is_file())

    def has(self, dataset: str) -> bool:
        return dataset in self._tables or bool(self.files(dataset))

    def table(self, dataset: str) -> ibis.Table:
        if dataset not in self._tables:
            files = self.files(dataset)
            if not files:
                raise KeyError(f"the workspace holds no {dataset!r} data")
            self._tables[dataset] = self._current(dataset, self._open_parquet(dataset, files))
        return self._tables[dataset]

    @staticmethod
    def _current(dataset: str, table: ibis.Table) -> ibis.Table:
        """For a reference dataset, the latest ingested version of each row (by ``_seq``)."""
        keys = PRIMARY_KEYS.get(dataset)
        if not keys or "_seq" not in table.columns:
            return table
        rank = ibis.row_number().over(group_by=[table[k] for k in keys], order_by=ibis.desc(table._seq))
        return table.mutate(_version=rank).filter(lambda t: t._version == 0).drop("_version")

    def register(self, dataset: str, table: pa.Table) -> ibis.Table:
        """Put an in-memory Arrow table in place of a dataset (tests, small reference data)."""
        self._tables[dataset] = self._register_arrow(dataset, table)
        return self._tables[dataset]

    def refresh(self) -> None:
        """Forget opened tables so the next ``table()`` sees newly stored files."""
        self._tables = {k: v for k, v in self._tables.items() if k not in DATASET_NAMES}
        self._sealed = None

    def rows_without(self, dataset: str, column: str) -> lakefiles.Legacy:
        """The ingest sequences (``_seq``) of ``dataset``'s rows stored before ``column`` existed
        (they read NULL there), from the files' footers; ``.seqs`` None when unknown."""
        return lakefiles.rows_without(self.files(dataset), column)

    def to_arrow(self, expr: ibis.Expr) -> pa.Table:
        """Execute and return an Arrow table whose timestamps are UTC."""
        return expr.to_pyarrow()

    def close(self) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _sealed_by_dataset(workspace: Workspace) -> dict[str, list[str]]:
    """dataset -> the relative paths of its sealed stored files. An entry that cannot be read is
    passed over (verify reports it): one damaged entry must not blind every query."""
    out: dict[str, list[str]] = {}
    for seq in committed_seqs(workspace):
        try:
            entry = read_entry(entry_path(workspace, seq))
            out.setdefault(entry["dataset"], []).extend(f["path"] for f in entry.get("files") or ())
        except (CustodesError, KeyError, TypeError):
            continue
    return out
