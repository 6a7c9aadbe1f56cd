"""Vectorised string making: deterministic hashes, hex ids and joined text as Arrow arrays.

Millions of ids are needed per simulated day, so no id is ever formatted by a Python loop:
ids are 64-bit mixes (splitmix64) of integers, spelled out as hex through a lookup table and
handed to Arrow as one buffer.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
#: Byte -> its two hex digits, as one uint16 whose memory holds them in order.
_HEX_PAIRS = (np.array([[_HEX[b >> 4], _HEX[b & 15]] for b in range(256)], dtype=np.uint8)
              .reshape(-1).view(np.uint16))
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def mix64(*parts) -> np.ndarray:
    """splitmix64 of the parts combined: a fast, well-spread, deterministic 64-bit hash."""
    acc = np.zeros(1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for part in parts:
            acc = _splitmix(acc ^ (np.asarray(part).astype(np.uint64) + _GOLDEN))
    return acc


def _splitmix(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = z + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def fixed_width(chars: np.ndarray) -> pa.StringArray:
    """An (n, width) uint8 array of ASCII bytes as an Arrow string array, without copying per row."""
    n, width = chars.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32) if n else np.zeros(1, np.int32)
    data = np.ascontiguousarray(chars)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def hex_digits(words: np.ndarray) -> np.ndarray:
    """The lowercase hex digits of each row of ``words`` (uint64), as an (n, 16k) uint8 array."""
    words = np.asarray(words, dtype=np.uint64)
    if words.ndim == 1:
        words = words[:, None]
    n = words.shape[0]
    raw = words.astype(">u8").view(np.uint8).reshape(n, 8 * words.shape[1])
    return _HEX_PAIRS[raw].view(np.uint8).reshape(n, 16 * words.shape[1])


def hex_ids(words: np.ndarray, prefix: str = "", dashes: tuple[int, ...] = ()) -> pa.StringArray:
    """Spell each row of ``words`` (uint64, shape (n,) or (n, k)) as lowercase hex after ``prefix``.

    ``dashes`` are hex-digit positions after which a '-' goes (e.g. a UUID's 8, 12, 16, 20).
    """
    digits = hex_digits(words)
    n = digits.shape[0]
    pieces = [np.broadcast_to(np.frombuffer(prefix.encode(), np.uint8), (n, len(prefix)))]
    last = 0
    for cut in dashes:
        pieces += [digits[:, last:cut], np.full((n, 1), ord("-"), np.uint8)]
        last = cut
    pieces.append(digits[:, last:])
    return fixed_width(np.concatenate(pieces, axis=1))


def numbered(prefix: str, numbers: np.ndarray, width: int) -> pa.StringArray:
    """``prefix`` followed by each number zero-padded to ``width`` digits (e.g. u000123)."""
    numbers = np.asarray(numbers, dtype=np.int64)
    n = len(numbers)
    digits = np.empty((n, width), dtype=np.uint8)
    rest = numbers.copy()
    for pos in range(width - 1, -1, -1):
        digits[:, pos] = ord("0") + rest % 10
        rest //= 10
    head = np.broadcast_to(np.frombuffer(prefix.encode(), np.uint8), (n, len(prefix)))
    return fixed_width(np.concatenate([head, digits], axis=1))


def join(parts: list, sep: str = "") -> pa.Array:
    """Element-wise concatenation of Arrow string arrays (or scalars) with ``sep``."""
    arrays = [p if isinstance(p, (pa.Array, pa.ChunkedArray)) else pa.scalar(str(p)) for p in parts]
    return pc.binary_join_element_wise(*arrays, sep)


def ints_as_text(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())


def pick(options: list[str], index: np.ndarray) -> pa.Array:
    """options[index] for every index, as an Arrow string array."""
    return pa.array(options, pa.string()).take(pa.array(np.asarray(index, dtype=np.int64)))


def argsort_stable(values: np.ndarray) -> np.ndarray:
    """A stable argsort of integers, several times faster than NumPy's own for millions of them.

    Each value's offset from the minimum is packed with its position into one int64 and the
    packed words are sorted by value (NumPy's vectorised sort); the positions come back out of
    the low bits. Falls back to NumPy's stable argsort when the two do not fit in 63 bits.
    """
    values = np.asarray(values, dtype=np.int64)
    n = len(values)
    if n < 2:
        return np.arange(n)
    low = int(values.min())
    index_bits = (n - 1).bit_length()
    if (int(values.max()) - low).bit_length() + index_bits > 63:
        return np.argsort(values, kind="stable")
    packed = ((values - low) << index_bits) | np.arange(n, dtype=np.int64)
    packed.sort()
    return packed & ((1 << index_bits) - 1)
