"""Parquet input: typed columns read batch by batch (only the columns the mapping needs).

Arrow reads the file through ``HashingFile``, a view of the ingest's one open handle that
hashes the bytes Arrow asks for as it asks for them, in file order: the column chunks it reads,
and the ones it skips (columns no contract column needs) read and hashed in the same pass when
Arrow moves past them. The footer, read first, is hashed at the end like any other byte.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from custodes.errors import CustodesError
from custodes.lake.arrays import row_numbers
from custodes.lake.readers.source import CHUNK


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


class HashingFile(io.RawIOBase):
    """The source as a seekable file for Arrow. Once ``hashing`` is on, every read beyond the
    bytes hashed so far first hashes the gap (read from the same handle, in chunks), then the
    bytes read: each byte of the file is hashed once, in order, whatever Arrow skips. Reads
    behind that point (Arrow going back) are served without hashing them again."""

    def __init__(self, source):
        super().__init__()
        self.source = source
        self.pos = 0
        self.hashing = False
        self._lock = threading.Lock()  # Arrow may read from several threads

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.source.size}[whence]
        self.pos = base + offset
        return self.pos

    def tell(self) -> int:
        return self.pos

    def read_buffer(self, n: int = -1) -> pa.Buffer:
        """What Arrow calls (before ``read``): the bytes in a buffer of Arrow's own memory pool.
        Arrow releases such a buffer without the GIL; a Python ``bytes`` made every release of
        a page's buffer wait for the GIL (a 1M-row read took 2.2 s instead of 0.4 s)."""
        with self._lock:
            if n is None or n < 0:
                n = self.source.size - self.pos
            n = max(0, min(n, self.source.size - self.pos))
            buf = pa.allocate_buffer(n)
            got = self.source.read_into(memoryview(buf).cast("B"), self.pos) if n else 0
            data = buf if got == n else buf.slice(0, got)
            if self.hashing:
                self._hash_through(self.pos, data)
            self.pos += got
            return data

    def read(self, n: int = -1) -> bytes:
        return self.read_buffer(n).to_pybytes()

    def readinto(self, buffer) -> int:
        data = self.read_buffer(len(buffer))
        memoryview(buffer).cast("B")[:len(data)] = memoryview(data)
        return len(data)

    def _hash_through(self, offset: int, data: pa.Buffer) -> None:
        source = self.source
        while source.consumed < offset:  # the gap Arrow skipped
            gap = source.pread(min(CHUNK, offset - source.consumed), source.consumed)
            if not gap:
                return
            source.consume(gap)
        if offset + len(data) > source.consumed:
            source.consume(data.slice(source.consumed - offset))


class ParquetReader:
    kind = "table"

    def __init__(self, source, batch_rows: int, needed: list[str] | None = None):
        self.source = source
        self.path = source.path
        self.batch_rows = batch_rows
        self._handle = HashingFile(source)
        try:
            self._file = pq.ParquetFile(self._handle)  # reads the footer: hashed at the end, in order
            coded = dictionary_coded(self._file)
            if coded:
                self._file = pq.ParquetFile(self._handle, metadata=self._file.metadata, read_dictionary=coded)
        except (pa.ArrowException, OSError) as exc:
            raise CustodesError(f"{self.path}: not a valid Parquet file ({exc})") from None
        self._handle.hashing = True
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
                batch = _compact(batch)
                yield batch.append_column("_row", rows).append_column("_nul", _nul_column(batch))
        except (pa.ArrowException, OSError) as exc:
            raise CustodesError(f"{self.path}: unreadable Parquet after row {offset} ({exc})") from None
        self.source.consume_rest()

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


def _nul_column(batch: pa.RecordBatch) -> pa.Array:
    """``_nul``: NULL, unless a text value of the batch holds a NUL character; then true for
    those rows. Each text column's character data is checked at once (a vectorised minimum
    over its buffer; a dictionary column's over its dictionary), per value only when it holds
    a NUL somewhere."""
    flags = None
    for column in batch.columns:
        values = column.dictionary if pa.types.is_dictionary(column.type) else column
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)) or not _has_nul(values):
            continue
        hit = pc.match_substring(values, "\x00")
        if values is not column:
            hit = pc.take(hit, column.indices)
        hit = pc.fill_null(hit, False)
        flags = hit if flags is None else pc.or_(flags, hit)
    return pa.nulls(batch.num_rows, pa.bool_()) if flags is None else flags


def _has_nul(values: pa.Array) -> bool:
    data = values.buffers()[2]
    if data is None or not len(values):
        return False
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int64 if pa.types.is_large_string(values.type) else np.int32)
    lo, hi = int(offsets[values.offset]), int(offsets[values.offset + len(values)])
    chars = np.frombuffer(data, dtype=np.uint8)[lo:hi]
    return bool(len(chars)) and chars.min() == 0
