"""Build contract-shaped Arrow tables from column values in bulk.

Generators hand over NumPy arrays (timestamps as int64 µs), Arrow arrays, one Python value for
a whole column, or :class:`Coded` columns: integer codes into a small array of distinct values.
String columns are kept dictionary-encoded from the start: a day's millions of requests carry a
few hundred thousand distinct accounts, tokens and addresses, so sorting, concatenating and
writing them moves 4-byte codes instead of strings, and Parquet takes the dictionary as is.
Files are written without the Arrow schema, so every reader sees the contract's plain types.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from custodes import contract
from custodes.simulate.clock import timestamps

DICTIONARY = pa.dictionary(pa.int32(), pa.string())
#: String columns unique per row: a dictionary would only cost.
UNIQUE = frozenset({"request_id", "token_id"})


@dataclass(frozen=True)
class Coded:
    """A string column given as ``values[codes]``."""

    codes: np.ndarray
    values: pa.Array

    def array(self) -> pa.DictionaryArray:
        values = self.values.combine_chunks() if isinstance(self.values, pa.ChunkedArray) else self.values
        return pa.DictionaryArray.from_arrays(pa.array(np.asarray(self.codes, dtype=np.int32)), values)


def coded_unique(codes: np.ndarray, values: pa.Array) -> Coded:
    """Like Coded, but drop the values no code uses (keeps dictionaries to what a file holds)."""
    used, inverse = np.unique(codes, return_inverse=True)
    return Coded(inverse.astype(np.int32), values.take(pa.array(used)))


def column(kind: str, value, n: int, coded: bool = True) -> pa.Array:
    """One column of n values of a contract ``kind``; strings dictionary-encoded when ``coded``."""
    if kind == "string":
        return _strings(value, n, coded)
    arrow_type = contract._ARROW_TYPES[kind]
    if value is None:
        return pa.nulls(n, arrow_type)
    if isinstance(value, pa.ChunkedArray):
        value = value.combine_chunks()
    if isinstance(value, pa.Array):
        _check_length(len(value), n)
        return value if value.type == arrow_type else value.cast(arrow_type)
    if isinstance(value, np.ndarray):
        _check_length(len(value), n)
        return timestamps(value) if kind == "timestamp" else pa.array(value, arrow_type)
    if kind == "timestamp":
        return timestamps(np.full(n, value, dtype=np.int64))
    return pa.repeat(pa.scalar(value, arrow_type), n)


def _strings(value, n: int, coded: bool) -> pa.Array:
    if value is None:
        return pa.nulls(n, DICTIONARY if coded else pa.string())
    if isinstance(value, Coded):
        _check_length(len(value.codes), n)
        array = value.array()
        return array if coded else array.cast(pa.string())
    if isinstance(value, pa.ChunkedArray):
        value = value.combine_chunks()
    if isinstance(value, pa.Array):
        _check_length(len(value), n)
        if value.type == DICTIONARY:
            return value if coded else value.cast(pa.string())
        value = value.cast(pa.string())
        return pc.dictionary_encode(value) if coded else value
    if coded:
        return Coded(np.zeros(n, np.int32), pa.array([value], pa.string())).array()
    return pa.repeat(pa.scalar(value, pa.string()), n)


def _check_length(got: int, n: int) -> None:
    if got != n:
        raise ValueError(f"column has {got} values, expected {n}")


def _coded(col: contract.Column) -> bool:
    return col.kind == "string" and col.name not in UNIQUE


def schema(dataset: str) -> pa.Schema:
    """The contract's schema with strings dictionary-encoded: how tables travel in here."""
    return pa.schema([pa.field(c.name, DICTIONARY if _coded(c) else c.arrow_type)
                      for c in contract.columns(dataset)])


def table(dataset: str, n: int, **values) -> pa.Table:
    """A table of ``dataset`` with n rows; columns not given are null."""
    unknown = set(values) - {c.name for c in contract.columns(dataset)}
    if unknown:
        raise ValueError(f"{dataset}: no such column(s) {', '.join(sorted(unknown))}")
    arrays = [column(c.kind, values.get(c.name), n, coded=_coded(c)) for c in contract.columns(dataset)]
    return pa.Table.from_arrays(arrays, schema=schema(dataset))


def combine(dataset: str, parts: list[pa.Table]) -> pa.Table:
    """Concatenate parts and order them by ``time`` (each part is mostly in order already, so a
    stable merge sort of the times is cheap); every string column ends with one dictionary.

    ``parts`` is emptied, and each column is released as soon as its ordered copy exists, so
    the peak is about one day's table plus one column.
    """
    joined = pa.concat_tables(parts)
    parts.clear()
    times = joined["time"].combine_chunks().view(pa.int64()).to_numpy()
    order = pa.array(np.argsort(times, kind="stable"))
    del times
    arrays = []
    for name in list(joined.column_names):
        col = joined[name]
        joined = joined.drop_columns([name])
        if col.type == DICTIONARY:
            col = col.unify_dictionaries()
        arrays.append(col.combine_chunks().take(order))
        del col
    return pa.Table.from_arrays(arrays, schema=schema(dataset))


def plain(table: pa.Table) -> pa.Table:
    """The same table with plain string columns (the contract's exact types)."""
    arrays = [col.cast(pa.string()) if col.type == DICTIONARY else col for col in table.columns]
    return pa.Table.from_arrays(arrays, names=table.column_names)


def check(dataset: str, table: pa.Table) -> None:
    """Fail loudly if a table drifted from the contract (names, order, value types)."""
    want = contract.schema(dataset)
    got = [(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type) for f in table.schema]
    if got != [(f.name, f.type) for f in want]:
        raise AssertionError(f"{dataset}: columns {got} differ from the contract's")


def empty(dataset: str) -> pa.Table:
    return table(dataset, 0)
