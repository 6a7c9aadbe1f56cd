"""``<column>_key`` companions (custodes.ids), computed on each batch's distinct values.

MD5 is the cost of ingest: eight keyed access columns are eight digests a row. Most keyed
columns repeat heavily within a batch (a customer's device, session and address recur; a few
hundred user agents), so each column is dictionary-encoded with Arrow and only its distinct
values are hashed (DuckDB's md5_number, see ``hash_values``), then spread back with
``take``. A column that hardly repeats (request ids) is hashed directly. Bit-identical to ``ids.key_of``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from custodes.lake.arrays import int64s, numbers, valid_mask

#: Hash distinct values when they are at most this share of the rows.
DISTINCT_SHARE = 0.6
#: Rows sampled to guess whether a column repeats enough to be worth encoding first.
SAMPLE = 8192


# md5_number is the digest read as one little-endian 128-bit integer: its low 64 bits are the
# digest's first 8 bytes backwards. Swapping them back in numpy gives ids.key_of's big-endian
# read without formatting and parsing hex text (about twice as fast as ids.key_sql).
_HASH_SQL = "SELECT CAST(md5_number(v) & CAST(18446744073709551615 AS UHUGEINT) AS UBIGINT) AS k FROM _keys_in"


def hash_values(con, values: pa.Array) -> pa.Array:
    """``ids.key_of`` of each value (NULL for NULL), vectorised by DuckDB and numpy."""
    if not len(values):
        return pa.nulls(0, pa.int64())
    con.register("_keys_in", pa.table({"v": values}))
    try:
        low = con.sql(_HASH_SQL).to_arrow_table().column("k").combine_chunks()
    finally:
        con.unregister("_keys_in")
    swapped = numbers(low).byteswap().view(np.int64)
    return int64s(swapped, valid_mask(low) if low.null_count else None)


def distinct_values(column: pa.ChunkedArray | pa.Array) -> tuple[pa.Array, pa.Array | None]:
    """(values to hash, indices to spread them back with, or None when hashed row by row)."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_dictionary(arr.type):  # already its distinct values (readers.parquet)
        return arr.dictionary, arr.indices
    if len(arr) > 4 * SAMPLE:
        sample = arr.slice(len(arr) // 2, SAMPLE)
        if pc.count_distinct(sample).as_py() > DISTINCT_SHARE * len(sample):
            return arr, None  # hardly repeats (request ids): encoding would be wasted
    encoded = pc.dictionary_encode(arr)
    if len(encoded.dictionary) > DISTINCT_SHARE * len(arr):
        return arr, None
    return encoded.dictionary, encoded.indices


class Remembered:
    """The keys of each column's last dictionary. Arrow hands every batch of a Parquet row
    group that row group's whole dictionary (47,105 account ids for each 262,144-row batch of
    a 1M-row group): hashing it once per row group instead of once per batch saved a quarter of
    ingest's MD5 work. A dictionary that extends the remembered one has only its new values
    hashed."""

    def __init__(self):
        self._last: dict[str, tuple[pa.Array, pa.Array]] = {}

    def known(self, name: str, dictionary: pa.Array) -> pa.Array | None:
        """Keys of the leading values of ``dictionary`` already hashed (possibly none)."""
        last = self._last.get(name)
        if last is None or len(last[0]) > len(dictionary):
            return None
        values, keys = last
        return keys if dictionary.slice(0, len(values)).equals(values) else None

    def remember(self, name: str, dictionary: pa.Array, keys: pa.Array) -> None:
        self._last[name] = (dictionary, keys)


def key_arrays(con, columns: list, names: list[str] | None = None, memory: Remembered | None = None) -> list[pa.Array]:
    """Keys of several string columns, with one DuckDB query for all of them (a query's fixed
    cost is a few milliseconds: per column and batch it would add up). With ``memory`` (and
    the columns' ``names``), dictionaries seen in the previous batch are not hashed again."""
    plans = [distinct_values(c) for c in columns]
    # Only a dictionary the input came with can recur; one encoded here is new each batch.
    remembered = [memory is not None and name is not None and pa.types.is_dictionary(c.type)
                  for name, c in zip(names or [None] * len(columns), columns)]
    known = [memory.known(name, values) if keep else None
             for name, (values, _), keep in zip(names or [], plans, remembered)] or [None] * len(plans)
    todo = [values.slice(len(k)) if k is not None else values for (values, _), k in zip(plans, known)]
    if not todo:
        return []
    fresh = [v.cast(pa.string()) for v in todo]
    hashed = hash_values(con, pa.concat_arrays(fresh)) if sum(len(v) for v in fresh) else pa.nulls(0, pa.int64())
    out, start = [], 0
    for i, ((values, indices), done, new) in enumerate(zip(plans, known, todo)):
        part = hashed.slice(start, len(new))
        start += len(new)
        if done is not None:
            part = pa.concat_arrays([done, part]) if len(part) else done
        if remembered[i]:
            memory.remember(names[i], values, part)
        out.append(part if indices is None else pc.take(part, indices))
    return out


def key_array(con, column: pa.ChunkedArray | pa.Array) -> pa.Array:
    return key_arrays(con, [column])[0]


def key_columns(con, table: pa.Table, columns: tuple[str, ...], memory: Remembered | None = None
                ) -> list[tuple[str, pa.Array]]:
    """``(<col>_key, keys)`` for each of ``columns`` (``src_ip_key`` comes from
    :mod:`custodes.lake.ips`); the writer puts columns in their stored order."""
    return [(f"{col}_key", keys)
            for col, keys in zip(columns, key_arrays(con, [table.column(c) for c in columns], list(columns), memory))]
