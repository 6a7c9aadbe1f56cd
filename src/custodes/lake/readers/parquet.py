"""Parquet input: typed columns read batch by batch (only the columns the mapping needs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from custodes.errors import CustodesError
from custodes.lake.arrays import row_numbers


def dictionary_coded(file: pq.ParquetFile) -> list[str]:
    """Text columns stored with a dictionary in every row group (a log's user agents, routes,
    countries, account ids). They are read as Arrow dictionaries: turning them into one string
    per row is most of what decoding a log costs, and the lake hashes, checks and stores a
    dictionary column by its distinct values anyway."""
    meta = file.metadata
    if meta.num_row_groups == 0:
        return []
    schema = file.schema_arrow
    coded = []
    for i in range(meta.num_columns):
        name = meta.schema.column(i).path
        if "." in name or len(schema.get_all_field_indices(name)) != 1:
            continue  # nested, or a name given twice: read as it is
        kind = schema.field(name).type
        kind = kind.value_type if pa.types.is_dictionary(kind) else kind
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            continue
        if all(meta.row_group(g).column(i).has_dictionary_page for g in range(meta.num_row_groups)):
            coded.append(name)
    return coded


class ParquetReader:
    kind = "table"

    def __init__(self, path: Path, batch_rows: int, needed: list[str] | None = None):
        self.path = path
        self.batch_rows = batch_rows
        try:
            self._file = pq.ParquetFile(path)
            coded = dictionary_coded(self._file)
            if coded:
                self._file = pq.ParquetFile(path, read_dictionary=coded)
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
            for batch in self._row_group_batches():
                n = batch.num_rows
                rows = row_numbers(offset + 1, n)
                offset += n
                yield _compact(batch).append_column("_row", rows)
        except (pa.ArrowException, OSError) as exc:
            raise CustodesError(f"{self.path}: unreadable Parquet after row {offset} ({exc})") from None

    def _row_group_batches(self) -> Iterator[pa.RecordBatch]:
        """One row group at a time: over a whole file, Arrow's read-ahead cache keeps every row
        group's compressed bytes until the file is closed, so memory grew with the file."""
        for group in range(self._file.metadata.num_row_groups):
            yield from self._file.iter_batches(batch_size=self.batch_rows, row_groups=[group],
                                               columns=self.needed, use_threads=True)


def _compact(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Decode the dictionary columns whose dictionary outgrew the batch. Arrow hands each batch
    the whole dictionary read so far in its row group, so small batches of a big row group
    would hash and write that dictionary again and again; as strings they cost what plain
    input costs."""
    for i, field in enumerate(batch.schema):
        if pa.types.is_dictionary(field.type) and len(batch.column(i).dictionary) > batch.num_rows // 2:
            batch = batch.set_column(i, field.name, batch.column(i).cast(field.type.value_type))
    return batch
