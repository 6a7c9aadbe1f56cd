"""What the stored files themselves say, read from Parquet footers only (no rows): which rows
come from files written before a column existed (:meth:`Engine.rows_without`).

The lake added columns over time (``src_ip_v4``, the IPv4 address as an unsigned 32-bit integer,
and ``_extra`` to ``access``); files stored before lack them, and a reader that unions the files
by name sees NULL there. To filter a CIDR by integer range and still be exact on such a mixed
lake, scope must know which rows come from those older files: every stored file holds one ingest
(one ``_seq``, docs/ARCHITECTURE.md), so the older rows are the ``_seq`` values of the files
without the column.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

#: a stored file spanning more ingest sequences than this is not one ingest: knowledge unknown
MAX_SEQ_SPAN = 64


@dataclass(frozen=True)
class Legacy:
    """Rows stored without a column: ``seqs`` are their ingest sequences, or None when
    the files cannot tell (tables registered in memory, files without ``_seq`` statistics): then
    every row that is NULL in the column must be treated as possibly older."""

    seqs: frozenset[int] | None

    @property
    def none(self) -> bool:
        return self.seqs is not None and not self.seqs


def rows_without(files: list[Path], column: str) -> Legacy:
    """Which of the stored ``files``' rows lack ``column`` (no files: unknown, e.g. tables
    registered in memory)."""
    if not files:
        return Legacy(None)
    seqs: set[int] = set()
    for path in files:
        stat = path.stat()
        span = _file_legacy_span(str(path), column, stat.st_mtime_ns, stat.st_size)
        if span is None:
            return Legacy(None)
        seqs.update(span)
    return Legacy(frozenset(seqs))


@functools.lru_cache(maxsize=65536)
def _file_legacy_span(path: str, column: str, _mtime_ns: int, _size: int) -> range | None:
    """The ingest sequences of one file without ``column`` (empty when it has it); None when
    unknown. Cached by path, mtime and size: a long-lived process (the console) reads each
    footer once; stored files are never rewritten in place."""
    meta = pq.ParquetFile(path).metadata
    names = meta.schema.names
    if column in names:
        return range(0)
    return _seq_span(meta, names)


def _seq_span(meta: pq.FileMetaData, names: list[str]) -> range | None:
    if "_seq" not in names:
        return None
    column = names.index("_seq")
    lows, highs = [], []
    for n in range(meta.num_row_groups):
        stats = meta.row_group(n).column(column).statistics
        if stats is None or not stats.has_min_max:
            return None
        lows.append(int(stats.min))
        highs.append(int(stats.max))
    if not lows:
        return range(0)  # a file without rows holds no sequence
    low, high = min(lows), max(highs)
    if high - low > MAX_SEQ_SPAN:
        return None
    return range(low, high + 1)
