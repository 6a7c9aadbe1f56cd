"""Writing the simulator's output: owner-only files, written whole or not at all.

Everything the simulator writes describes people (addresses, account ids, names), so every
file is created 0600 in 0700 directories, under a dot-name that readers skip, and renamed into
place when complete. Parquet is written with zstd at a low level (fast, a third of snappy's
size on these logs) and dictionary pages only for the columns that repeat.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from custodes import contract
from custodes.workspace import atomic_write_bytes, private_dir, private_open

#: Columns unique (or nearly) per row: a dictionary page would only be thrown away.
NO_DICTIONARY = {"request_id", "time", "iat", "exp", "bytes_out", "token_id"}
#: Time-ordered timestamps: deltas are small, so delta encoding beats plain + zstd.
DELTA = {"time", "iat", "exp"}
RFC3339 = "%Y-%m-%dT%H:%M:%SZ"
#: A day is one row group, so each column's dictionary page is written once per file.
ROW_GROUP = 1 << 24
DICTIONARY_PAGE_LIMIT = 1 << 28


def _in_flight(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def write_parquet(table: pa.Table, path: Path) -> None:
    private_dir(path.parent)
    tmp = _in_flight(path)
    with private_open(tmp, "wb"):
        pass  # create it 0600 before pyarrow writes into it
    dictionary = [name for name in table.column_names if name not in NO_DICTIONARY]
    # Min/max of random ids prunes nothing and costs a third of the write: keep them for
    # times and numbers only.
    statistics = [f.name for f in table.schema if not _is_text(f.type)]
    # No stored Arrow schema: dictionary-encoded columns read back as the contract's plain strings.
    pq.write_table(table, tmp, compression="zstd", compression_level=1, use_dictionary=dictionary,
                   row_group_size=ROW_GROUP, dictionary_pagesize_limit=DICTIONARY_PAGE_LIMIT,
                   store_schema=False, write_statistics=statistics or False,
                   column_encoding={name: "DELTA_BINARY_PACKED" for name in table.column_names if name in DELTA} or None)
    os.replace(tmp, path)


def _is_text(arrow_type: pa.DataType) -> bool:
    return pa.types.is_string(arrow_type) or pa.types.is_dictionary(arrow_type)


def csv_bytes(table: pa.Table) -> bytes:
    """CSV with a header; timestamps as RFC 3339 with a Z, to the second; nulls as empty."""
    columns = []
    for field in table.schema:
        col = table.column(field.name)
        if pa.types.is_timestamp(field.type):
            seconds = pc.cast(col, pa.timestamp("s", tz="UTC"), safe=False)
            col = pc.strftime(seconds, format=RFC3339)
        columns.append(col)
    text = pa.Table.from_arrays(columns, names=table.column_names)
    sink = io.BytesIO()
    sink.write((",".join(table.column_names) + "\n").encode())
    pacsv.write_csv(text, sink, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    return sink.getvalue()


def write_csv(table: pa.Table, path: Path) -> None:
    private_dir(path.parent)
    atomic_write_bytes(path, csv_bytes(table))


def write_text(path: Path, text: str) -> None:
    private_dir(path.parent)
    atomic_write_bytes(path, text.encode("utf-8"))


def read_back(dataset: str, path: Path) -> pa.Table:
    """A written file as the contract's types (what a test or a quick look needs)."""
    if path.suffix == ".csv":
        schema = contract.schema(dataset)
        options = pacsv.ConvertOptions(
            column_types={f.name: f.type for f in schema}, strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            timestamp_parsers=[pacsv.ISO8601],
        )
        return pacsv.read_csv(path, convert_options=options)
    return pq.read_table(path)
