"""Readers turn one input file into a stream of Arrow batches, each with ``_row`` (the row's
1-based position in its file: data row for CSV and Parquet, line number for JSON Lines, element
index for a JSON array). Memory is bounded by the batch size, not the file size.

A tabular reader (Parquet, CSV) exposes its columns and their Arrow types; a JSON reader
exposes one ``_json`` text column that the mapping turns into values with vectorised DuckDB
JSON functions.
"""

from __future__ import annotations

from pathlib import Path

from custodes.errors import CustodesError

FORMATS = ("parquet", "csv", "jsonl", "ocsf")

_EXTENSIONS = {
    ".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".json": "jsonl", ".ocsf": "ocsf",
}


def format_of(path: Path, given: str | None) -> str:
    """The format a file is read as: ``given`` (``--format``) or its extension."""
    if given:
        return given
    suffixes = [s.lower() for s in path.suffixes]
    for s in reversed(suffixes):
        if s in _EXTENSIONS:
            return _EXTENSIONS[s]
    raise CustodesError(f"{path}: cannot tell the format from the extension; give --format "
                        f"({'|'.join(FORMATS)})")


def open_reader(path: Path, fmt: str, batch_rows: int, needed: list[str] | None = None):
    if fmt == "parquet":
        from custodes.lake.readers.parquet import ParquetReader
        return ParquetReader(path, batch_rows, needed)
    if fmt == "csv":
        from custodes.lake.readers.csv import CsvReader
        return CsvReader(path, batch_rows, needed)
    if fmt in ("jsonl", "ocsf"):
        from custodes.lake.readers.jsonl import open_json_reader
        return open_json_reader(path, batch_rows)
    raise CustodesError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def looks_binary(path: Path) -> bool:
    """A text format whose first bytes hold NULs or are not UTF-8 is not what it claims."""
    with open(path, "rb") as fh:
        head = fh.read(65536)
    if b"\x00" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(head) - 4  # a multi-byte character cut by the 64 KiB window is fine
    return False
