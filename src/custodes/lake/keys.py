"""``<column>_key`` companions (custodes.ids), computed on each batch's distinct values.

MD5 is the cost of ingest: eight keyed access columns are eight digests a row. Most keyed
columns repeat heavily within a batch (a customer's device, session and address recur; a few
hundred user agents), so each column is dictionary-encoded with Arrow and only its distinct
values are hashed (by DuckDB, with ``ids.key_sql``), then spread back with ``take``. A column
that hardly repeats (request ids) is hashed directly. Bit-identical to ``ids.key_of``.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from custodes.ids import key_sql

#: Hash distinct values when they are at most this share of the rows.
DISTINCT_SHARE = 0.6
#: Rows sampled to guess whether a column repeats enough to be worth encoding first.
SAMPLE = 8192


def _hash(con, values: pa.Array) -> pa.Array:
    con.register("_keys_in", pa.table({"v": values}))
    try:
        return con.sql(f"SELECT {key_sql('v')} AS k FROM _keys_in").to_arrow_table().column("k").combine_chunks()
    finally:
        con.unregister("_keys_in")


def _plan(column: pa.ChunkedArray | pa.Array) -> tuple[pa.Array, pa.Array | None]:
    """(values to hash, indices to spread them back with, or None when hashed row by row)."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if len(arr) > 4 * SAMPLE:
        sample = arr.slice(len(arr) // 2, SAMPLE)
        if pc.count_distinct(sample).as_py() > DISTINCT_SHARE * len(sample):
            return arr, None  # hardly repeats (request ids): encoding would be wasted
    encoded = pc.dictionary_encode(arr)
    if len(encoded.dictionary) > DISTINCT_SHARE * len(arr):
        return arr, None
    return encoded.dictionary, encoded.indices


def key_arrays(con, columns: list) -> list[pa.Array]:
    """Keys of several string columns, with one DuckDB query for all of them (a query's fixed
    cost is a few milliseconds: per column and batch it would add up)."""
    plans = [_plan(c) for c in columns]
    values = [v.cast(pa.string()) for v, _ in plans]
    if not values:
        return []
    hashed = _hash(con, pa.concat_arrays(values)) if sum(len(v) for v in values) else pa.array([], pa.int64())
    out, start = [], 0
    for (vals, indices) in plans:
        part = hashed.slice(start, len(vals))
        start += len(vals)
        out.append(part if indices is None else pc.take(part, indices))
    return out


def key_array(con, column: pa.ChunkedArray | pa.Array) -> pa.Array:
    return key_arrays(con, [column])[0]


def add_keys(con, table: pa.Table, columns: tuple[str, ...]) -> pa.Table:
    """Insert ``<col>_key`` for each of ``columns`` before ``_seq`` (the stored column order)."""
    at = table.column_names.index("_seq")
    for i, (col, keys) in enumerate(zip(columns, key_arrays(con, [table.column(c) for c in columns]))):
        table = table.add_column(at + i, f"{col}_key", keys)
    return table
