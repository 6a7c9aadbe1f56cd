"""Readers turn one input file into a stream of Arrow batches, each with ``_row`` (the row's
1-based position in its file: data row for CSV and Parquet, line number for JSON Lines, element
index for a JSON array) and ``_nul`` (true for a row holding a raw NUL byte; NULL elsewhere).
Memory is bounded by the batch size, not the file size. Every reader reads its file through one
``SourceFile`` (readers.source), which hashes exactly the bytes read.

A tabular reader (Parquet, CSV) exposes its columns and their Arrow types; a JSON reader
exposes one ``_json`` text column that the mapping turns into values with vectorised DuckDB
JSON functions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from custodes.errors import CustodesError

FORMATS = ("parquet", "csv", "jsonl", "ocsf")

_EXTENSIONS = {
    ".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".json": "jsonl", ".ocsf": "ocsf",
}


def format_of(path: Path, given: str | None, named: bool = True) -> str | None:
    """The format a file is read as: ``given`` (``--format``) or its extension. A file named on
    the command line without a known extension is an error; one found in a folder or by a glob
    (a README.txt beside the logs) is None: skipped with a note."""
    if given:
        return given
    suffixes = [s.lower() for s in path.suffixes]
    for s in reversed(suffixes):
        if s in _EXTENSIONS:
            return _EXTENSIONS[s]
    if not named:
        return None
    raise CustodesError(f"{path}: cannot tell the format from the extension; give --format "
                        f"({'|'.join(FORMATS)})")


def open_reader(source, fmt: str, batch_rows: int, needed: list[str] | None = None):
    """The reader of ``source`` (a readers.source.SourceFile) as ``fmt``."""
    if fmt == "parquet":
        from custodes.lake.readers.parquet import ParquetReader
        return ParquetReader(source, batch_rows, needed)
    if fmt == "csv":
        from custodes.lake.readers.csv import CsvReader
        return CsvReader(source, batch_rows, needed)
    if fmt in ("jsonl", "ocsf"):
        from custodes.lake.readers.jsonl import open_json_reader
        return open_json_reader(source, batch_rows)
    raise CustodesError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def line_based(source, fmt: str) -> bool:
    """Whether ``source`` is read record by record up to a newline (CSV, JSON Lines), so that a
    later, longer copy of it can be read on from where this one stopped. A JSON array is not."""
    return fmt == "csv" or (fmt in ("jsonl", "ocsf") and not is_json_array(source.head))


def is_json_array(head: bytes) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"[")


#: A text file whose first 64 KiB are at least this share NUL bytes is not text (UTF-16, or a
#: binary file). Fewer NULs are a row problem, like anywhere else (validate._nul_problem): a
#: crash can leave a run of NULs in the middle of a log.
BINARY_NUL_SHARE = 0.25


def looks_binary(source) -> bool:
    """A text format whose first bytes are mostly NULs or are not UTF-8 is not what it claims."""
    head = source.pread(65536, 0)
    if head.count(0) >= BINARY_NUL_SHARE * len(head) > 0:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(head) - 4  # a multi-byte character cut by the 64 KiB window is fine
    return False


def nul_rows(raw, starts, ends):
    """Which of the records ``[starts[i], ends[i])`` of ``raw`` (a numpy uint8 view) hold a NUL
    byte, as a boolean numpy array; None when none does (the common case: one vectorised
    minimum over the block, no per-record work)."""
    if not len(raw) or raw.min() != 0:
        return None
    nuls = np.flatnonzero(raw == 0)
    record = np.searchsorted(ends, nuls, side="left")  # a NUL at p belongs to the first record ending at or after p
    flags = np.zeros(len(starts), dtype=bool)
    flags[record[record < len(starts)]] = True
    return flags
