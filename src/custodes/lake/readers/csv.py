"""CSV input (header row): every column read as text, streamed in blocks, so that validation,
not type inference, decides what a value is."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from custodes.errors import CustodesError
from custodes.lake.readers import looks_binary

# Bytes per block: ~100k access rows, a few tens of MB of memory in flight.
BYTES_PER_ROW = 256


class CsvReader:
    kind = "table"

    def __init__(self, path: Path, batch_rows: int, needed: list[str] | None = None):
        self.path = path
        self.block_size = max(1 << 16, min(batch_rows * BYTES_PER_ROW, 1 << 25))
        if looks_binary(path):
            raise CustodesError(f"{path}: not a CSV file (binary content)")
        names = self._header()
        self.columns = {n: None for n in names}
        self.needed = needed

    def _header(self) -> list[str]:
        try:
            reader = pacsv.open_csv(self.path, read_options=pacsv.ReadOptions(block_size=1 << 16, use_threads=False),
                                    convert_options=pacsv.ConvertOptions(column_types={}))
            names = reader.schema.names
            reader.close()
        except pa.ArrowInvalid as exc:
            if "Empty CSV file" in str(exc):
                raise CustodesError(f"{self.path}: empty file (a CSV needs a header row)") from None
            raise CustodesError(f"{self.path}: not a valid CSV file ({exc})") from None
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise CustodesError(f"{self.path}: header names column(s) {', '.join(sorted(dupes))} more than once")
        return [n.lstrip("\ufeff") if i == 0 else n for i, n in enumerate(names)]

    def project(self, needed: list[str]) -> None:
        self.needed = [c for c in needed if c in self.columns]

    def batches(self) -> Iterator[pa.Table]:
        """Blocks of whole records, each parsed by Arrow (multi-threaded). Arrow's own streaming
        reader reads dozens of blocks ahead, so that memory would grow with the file: cutting
        the blocks here keeps at most one in memory."""
        names = list(self.columns)
        include = self.needed if self.needed is not None else names
        convert = pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names}, include_columns=include,
            strings_can_be_null=False, quoted_strings_can_be_null=False,
        )
        read = pacsv.ReadOptions(use_threads=True, column_names=names, block_size=1 << 24)
        offset = 0
        for block in self._blocks():
            try:
                table = pacsv.read_csv(pa.BufferReader(block), read_options=read, convert_options=convert)
            except pa.ArrowInvalid as exc:
                raise CustodesError(f"{self.path}: malformed CSV after data row {offset}: {exc}") from None
            n = table.num_rows
            if not n:
                continue
            rows = pa.array(np.arange(offset + 1, offset + n + 1, dtype=np.int64))
            offset += n
            yield table.append_column("_row", rows)  # a Table: DuckDB reads its chunks in place

    def _blocks(self) -> Iterator[bytes]:
        """The data (after the header) in blocks that end at a record boundary: a newline with
        an even number of quote characters before it (RFC 4180 quoting)."""
        with open(self.path, "rb") as fh:
            _skip_header(fh)
            carry = b""
            while True:
                chunk = fh.read(self.block_size)
                if not chunk:
                    break
                data = carry + chunk if carry else chunk
                cut = _last_record_end(data)
                if cut < 0:
                    carry = data
                    continue
                carry = data[cut + 1:]
                yield data[:cut + 1]
            if carry.strip():
                yield carry


def _skip_header(fh) -> None:
    """Move past the header record (which may itself hold quoted newlines)."""
    data = b""
    while True:
        chunk = fh.read(1 << 16)
        data += chunk
        ends = _record_ends(np.frombuffer(data, dtype=np.uint8))
        if len(ends):
            fh.seek(ends[0] + 1)
            return
        if not chunk:
            fh.seek(len(data))
            return


def _record_ends(raw: np.ndarray) -> np.ndarray:
    """Positions of the newlines that end a record: those with an even number of quote
    characters before them (inside a quoted value, a newline is data)."""
    newlines = np.flatnonzero(raw == 10)
    quotes = np.flatnonzero(raw == 34)
    if not len(quotes):
        return newlines
    return newlines[np.searchsorted(quotes, newlines) % 2 == 0]


def _last_record_end(data: bytes) -> int:
    ends = _record_ends(np.frombuffer(data, dtype=np.uint8))
    return int(ends[-1]) if len(ends) else -1
