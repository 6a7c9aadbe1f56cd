"""JSON input: JSON Lines (one object a line, numbered by line) or a JSON array of objects
(numbered by element). Lines are split with Arrow compute on large blocks, never line by line
in Python; DuckDB's JSON functions then read values out of each line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from custodes.errors import CustodesError
from custodes.lake.readers import looks_binary

BYTES_PER_ROW = 512


def open_json_reader(path: Path, batch_rows: int):
    if looks_binary(path):
        raise CustodesError(f"{path}: not a JSON file (binary content)")
    with open(path, "rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"["):
        return JsonArrayReader(path, batch_rows)
    return JsonLinesReader(path, batch_rows)


class JsonLinesReader:
    kind = "json"
    columns = None

    def __init__(self, path: Path, batch_rows: int):
        self.path = path
        self.block_size = max(1 << 16, min(batch_rows * BYTES_PER_ROW, 1 << 25))

    def _lines(self, body, first_line: int) -> tuple[pa.RecordBatch, int]:
        """The lines of ``body`` (whole lines, no final newline) as a zero-copy string array:
        newline positions come from numpy, the strings share ``body``'s buffer."""
        raw = np.frombuffer(body, dtype=np.uint8)
        newlines = np.flatnonzero(raw == 10)
        starts = np.concatenate(([0], newlines + 1)).astype(np.int32)
        ends = np.concatenate((newlines, [len(raw)])).astype(np.int32)
        crlf = (ends > starts) & (raw[np.maximum(ends - 1, 0)] == 13)
        ends = ends - crlf  # drop the \r of CRLF line ends
        # Offsets of a string array are contiguous, so each value runs to the next line's start:
        # it keeps its line end, which JSON reads as trailing whitespace.
        offsets = np.concatenate((starts, [len(raw)])).astype(np.int32)
        whole = pa.StringArray.from_buffers(len(starts), pa.py_buffer(offsets), pa.py_buffer(body))
        try:
            whole.validate(full=True)
        except pa.ArrowInvalid:
            raise CustodesError(f"{self.path}: not UTF-8 text (somewhere in lines {first_line}-"
                                f"{first_line + len(starts) - 1})") from None
        rows = pa.array(np.arange(first_line, first_line + len(starts), dtype=np.int64))
        batch = pa.RecordBatch.from_arrays([whole, rows], names=["_json", "_row"])
        keep = ends > starts
        return (batch if keep.all() else batch.filter(pa.array(keep))), len(starts)  # blank lines are not rows

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Blocks of whole lines, each read into a fresh buffer behind the previous block's
        unfinished line; the strings are views of that buffer (no copy after the read)."""
        line = 1
        carry = b""
        with open(self.path, "rb", buffering=0) as fh:
            while True:
                buf = bytearray(len(carry) + self.block_size)
                buf[:len(carry)] = carry
                n = fh.readinto(memoryview(buf)[len(carry):])
                if not n:
                    break
                size = len(carry) + n
                cut = buf.rfind(b"\n", 0, size)
                if cut < 0:
                    carry = bytes(buf[:size])
                    continue
                carry = bytes(buf[cut + 1:size])
                batch, lines = self._lines(memoryview(buf)[:cut], line)
                line += lines
                if batch.num_rows:
                    yield batch
        if carry.strip():
            batch, _ = self._lines(carry, line)
            if batch.num_rows:
                yield batch


class JsonArrayReader:
    """A JSON array of objects, streamed element by element by DuckDB's JSON reader."""

    kind = "json"
    columns = None

    def __init__(self, path: Path, batch_rows: int):
        self.path = path
        self.batch_rows = batch_rows

    def batches(self) -> Iterator[pa.RecordBatch]:
        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")
        offset = 0
        try:
            rel = con.sql(f"SELECT CAST(json AS VARCHAR) AS _json "
                          f"FROM read_json_objects({_lit(self.path)}, format='array')")
            reader = rel.to_arrow_reader(self.batch_rows)
            for batch in reader:
                n = batch.num_rows
                rows = pa.array(np.arange(offset + 1, offset + n + 1, dtype=np.int64))
                offset += n
                yield pa.RecordBatch.from_arrays([batch.column(0).cast(pa.string()), rows], names=["_json", "_row"])
        except duckdb.Error as exc:
            raise CustodesError(f"{self.path}: not a valid JSON array after element {offset} "
                                f"({str(exc).splitlines()[0]})") from None
        finally:
            con.close()


def _lit(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"
