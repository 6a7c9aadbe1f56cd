"""Parquet input: typed columns read batch by batch (only the columns the mapping needs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from custodes.errors import CustodesError


class ParquetReader:
    kind = "table"

    def __init__(self, path: Path, batch_rows: int, needed: list[str] | None = None):
        self.path = path
        self.batch_rows = batch_rows
        try:
            self._file = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as exc:
            raise CustodesError(f"{path}: not a valid Parquet file ({exc})") from None
        # A dictionary-encoded column is its values (DuckDB reads it so).
        self.columns = {f.name: f.type.value_type if pa.types.is_dictionary(f.type) else f.type
                        for f in self._file.schema_arrow}
        self.needed = needed

    def project(self, needed: list[str]) -> None:
        self.needed = [c for c in needed if c in self.columns]

    def batches(self) -> Iterator[pa.RecordBatch]:
        offset = 0
        try:
            for batch in self._file.iter_batches(batch_size=self.batch_rows, columns=self.needed,
                                                 use_threads=True):
                n = batch.num_rows
                rows = pa.array(np.arange(offset + 1, offset + n + 1, dtype=np.int64))
                offset += n
                yield batch.append_column("_row", rows)
        except (pa.ArrowException, OSError) as exc:
            raise CustodesError(f"{self.path}: unreadable Parquet after row {offset} ({exc})") from None
