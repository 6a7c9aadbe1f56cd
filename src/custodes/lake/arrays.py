"""numpy to Arrow and back on the ingest path, without pyarrow's pandas shim.

pyarrow imports pandas the first time ``pa.array``, ``pa.scalar``, ``Array.to_numpy`` or a
compute function given a Python value runs (to check whether its argument is a pandas object).
That import takes about 0.15 s and lands on the critical path of an ingest's first batch,
while the other core waits. These helpers build arrays and scalars from buffers instead, and
``tests/lake/test_arrays.py`` checks that a clean ingest of each format never imports pandas.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def int64s(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """An int64 array over ``values`` (no copy when already contiguous int64); ``valid``, a
    boolean array, marks which values are present (the others are NULL)."""
    values = np.ascontiguousarray(values, dtype=np.int64)
    bitmap, nulls = None, 0
    if valid is not None:
        nulls = int(len(valid) - np.count_nonzero(valid))
        if nulls:
            bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(pa.int64(), len(values), [bitmap, pa.py_buffer(values)], nulls)


def row_numbers(first: int, count: int) -> pa.Array:
    """``first``, ``first + 1``, ... as int64: the ``_row`` of a batch."""
    return int64s(np.arange(first, first + count, dtype=np.int64))


def bools(values: np.ndarray) -> pa.Array:
    """A boolean array (no NULLs) from a numpy boolean array, for filters and masks."""
    values = np.asarray(values, dtype=bool)
    return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(np.packbits(values, bitorder="little"))])


def numbers(array: pa.Array | pa.ChunkedArray, fill: int = 0) -> np.ndarray:
    """The values of an integer (or timestamp) array as numpy int64 or uint64, NULL read as
    ``fill``. Zero-copy when the array is one chunk without NULLs."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    kind = array.type
    if pa.types.is_timestamp(kind) or pa.types.is_date64(kind):
        kind = pa.int64()
        array = array.view(kind)
    dtype = {pa.int64(): np.int64, pa.uint64(): np.uint64, pa.int32(): np.int32}[kind]
    values = np.frombuffer(array.buffers()[1], dtype=dtype, count=len(array) + array.offset)[array.offset:]
    values.flags.writeable = False  # a view of the Arrow array's memory: never edit it in place
    if array.null_count:
        values = np.where(valid_mask(array), values, dtype(fill))
    return values


def valid_mask(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """True where ``array`` holds a value, as a numpy boolean array."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not array.null_count:
        return np.ones(len(array), dtype=bool)
    if pa.types.is_null(array.type):
        return np.zeros(len(array), dtype=bool)
    bitmap = np.frombuffer(array.buffers()[0], dtype=np.uint8)
    return np.unpackbits(bitmap, bitorder="little", count=len(array) + array.offset)[array.offset:].astype(bool)


def truths(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow array as numpy, NULL read as False."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    bits = np.frombuffer(array.buffers()[1], dtype=np.uint8)
    values = np.unpackbits(bits, bitorder="little", count=len(array) + array.offset)[array.offset:].astype(bool)
    return values & valid_mask(array) if array.null_count else values


def text(value: str) -> pa.Scalar:
    """A string scalar (``pa.scalar`` would import pandas)."""
    data = value.encode()
    offsets = np.array([0, len(data)], dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), 1, [None, pa.py_buffer(offsets), pa.py_buffer(data)])[0]


def null(kind: pa.DataType) -> pa.Scalar:
    return pa.nulls(1, kind)[0]


def int64(value: int) -> pa.Scalar:
    return int64s(np.array([value], dtype=np.int64))[0]
