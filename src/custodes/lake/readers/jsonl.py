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
from custodes.lake.arrays import bools, row_numbers
from custodes.lake.readers import is_json_array, looks_binary, nul_rows

BYTES_PER_ROW = 512
BOM = b"\xef\xbb\xbf"


def open_json_reader(source, batch_rows: int):
    if looks_binary(source):
        raise CustodesError(f"{source.path}: not a JSON file (binary content)")
    if is_json_array(source.head):
        return JsonArrayReader(source, batch_rows)
    return JsonLinesReader(source, batch_rows)


class JsonLinesReader:
    kind = "json"
    columns = None

    def __init__(self, source, batch_rows: int):
        self.source = source
        self.path = source.path
        self.block_size = max(1 << 16, min(batch_rows * BYTES_PER_ROW, 1 << 25))

    def _lines(self, body: pa.Buffer, first_line: int, newlines: np.ndarray | None = None) -> tuple[pa.RecordBatch, int]:
        """The lines of ``body`` (whole lines, no final newline) as a zero-copy string array:
        newline positions come from numpy (or the caller's scan), the strings share ``body``."""
        raw = np.frombuffer(body, dtype=np.uint8)
        if newlines is None:
            newlines = np.flatnonzero(raw == 10)
        starts = np.concatenate(([0], newlines + 1)).astype(np.int32)
        ends = np.concatenate((newlines, [len(raw)])).astype(np.int32)
        # (an empty body is one blank line: a block that starts with a newline)
        last = raw[np.maximum(ends - 1, 0)] if len(raw) else np.zeros(len(ends), np.uint8)
        crlf = (ends > starts) & (last == 13)
        ends = ends - crlf  # drop the \r of CRLF line ends
        # Offsets of a string array are contiguous, so each value runs to the next line's start:
        # it keeps its line end, which JSON reads as trailing whitespace.
        offsets = np.concatenate((starts, [len(raw)])).astype(np.int32)
        whole = pa.StringArray.from_buffers(len(starts), pa.py_buffer(offsets), body)
        try:
            whole.validate(full=True)
        except pa.ArrowInvalid:
            raise CustodesError(f"{self.path}: not UTF-8 text (somewhere in lines {first_line}-"
                                f"{first_line + len(starts) - 1})") from None
        rows = row_numbers(first_line, len(starts))
        nul = nul_rows(raw, starts, ends)
        batch = pa.RecordBatch.from_arrays([whole, rows, pa.nulls(len(starts), pa.bool_()) if nul is None else bools(nul)],
                                           names=["_json", "_row", "_nul"])
        keep = ends > starts
        return (batch if keep.all() else batch.filter(bools(keep))), len(starts)  # blank lines are not rows

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Blocks of whole lines, each read into a buffer from Arrow's memory pool behind the
        previous block's unfinished line; the strings are views of that buffer (no copy after
        the read). The pool hands back pages a finished block freed: a fresh bytearray cost
        15 ms a 32 MiB block in page faults and zeroing, a fifth of reading the file.

        Each block of whole lines is hashed as it is handed on (``SourceFile.consume``); the
        bytes after the file's last newline (a line still being written) are held back."""
        source = self.source
        line = source.first_row + 1
        offset = source.start
        carry = b""
        bom = offset == 0  # a UTF-8 BOM before line 1 is not part of it (as for CSV)
        while True:
            buf = pa.allocate_buffer(len(carry) + self.block_size)
            view = memoryview(buf).cast("B")
            view[:len(carry)] = carry
            n = source.read_into(view[len(carry):], offset)
            if not n:
                break
            offset += n
            size = len(carry) + n
            newlines = np.flatnonzero(np.frombuffer(buf, dtype=np.uint8, count=size) == 10)
            if not len(newlines):
                carry = bytes(view[:size])
                continue
            cut = int(newlines[-1])
            carry = bytes(view[cut + 1:size])
            source.consume(buf.slice(0, cut + 1))
            skip = len(BOM) if bom and bytes(view[:3]) == BOM else 0
            bom = False
            batch, lines = self._lines(buf.slice(skip, cut - skip), line, newlines[:-1] - skip)
            line += lines
            if batch.num_rows:
                yield batch
        source.hold_back(len(carry))
        source.last_row = line - 1


class JsonArrayReader:
    """A JSON array of objects, streamed element by element by DuckDB's JSON reader."""

    kind = "json"
    columns = None

    def __init__(self, source, batch_rows: int):
        self.source = source
        self.path = source.path
        self.batch_rows = batch_rows

    def batches(self) -> Iterator[pa.RecordBatch]:
        """DuckDB reads the file through this process's open handle (``/proc/self/fd``: the
        same inode, whatever the name now points to); the hash is taken from that handle once
        the elements are read, and the unchanged size and modification time vouch that both saw
        the same bytes."""
        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")
        offset = 0
        handle = _handle_path(self.source)
        try:
            rel = con.sql(f"SELECT CAST(json AS VARCHAR) AS _json FROM read_json_objects({_lit(handle)}, format='array')")
            reader = rel.to_arrow_reader(self.batch_rows)
            for batch in reader:
                n = batch.num_rows
                rows = row_numbers(offset + 1, n)
                offset += n
                yield pa.RecordBatch.from_arrays([batch.column(0).cast(pa.string()), rows, pa.nulls(n, pa.bool_())],
                                                 names=["_json", "_row", "_nul"])
        except (duckdb.Error, pa.ArrowException, OSError) as exc:  # (DuckDB's errors reach Arrow's reader as OSError)
            detail = str(exc).splitlines()[0].replace(f' in file "{handle}"', "").strip()
            raise CustodesError(f"{self.path}: not a valid JSON array after element {offset} ({detail})") from None
        finally:
            con.close()
        self.source.consume_rest()


def _handle_path(source) -> str:
    """A name for the open handle itself, where the system has one (Linux); else the path."""
    proc = Path(f"/proc/self/fd/{source.fd}")
    return str(proc) if proc.exists() else str(source.path)


def _lit(path: str) -> str:
    return "'" + str(path).replace("'", "''") + "'"
