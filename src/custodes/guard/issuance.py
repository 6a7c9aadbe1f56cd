"""Reading the ``issuance`` dataset (CONTRACT.md §1) into ledger records, for
``custodes guard ledger load``: Parquet, CSV (header row) or JSON Lines, columnar with pyarrow.

Only the columns the ledger needs are read: ``token_id``, ``kid``, ``subject``, ``iat``, ``exp``.
Times are RFC 3339 with a zone, or epoch seconds or milliseconds (integers above 10^11 are
milliseconds). A row with a missing or unparsable value is reported (file, row, column) and
skipped; the others load.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from custodes.errors import CustodesError

NEEDED = ("token_id", "kid", "subject", "iat", "exp")
_STRINGS = ("token_id", "kid", "subject")
_TIMES = ("iat", "exp")
_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl",
            ".ndjson": "jsonl", ".json": "jsonl"}
_MS_THRESHOLD = 10**11
_UTC_US = pa.timestamp("us", tz="UTC")


@dataclass
class BadRow:
    row: int  # 1-based data row (a CSV's header is line 1, so row r is line r + 1)
    column: str
    reason: str


def _format_of(path: Path, given: str | None) -> str:
    if given:
        return given
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise CustodesError(f"{path}: cannot tell the format from the extension; "
                            "give --input-format parquet|csv|jsonl")
    return fmt


def _read(path: Path, fmt: str) -> pa.Table:
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            schema = pq.read_schema(path)
            return pq.read_table(path, columns=[c for c in NEEDED if c in schema.names])
        if fmt == "csv":
            import pyarrow.csv as pcsv

            return pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(
                column_types={c: pa.string() for c in _STRINGS},
                include_columns=list(NEEDED), include_missing_columns=False))
        import pyarrow.json as pjson

        return pjson.read_json(path)
    except (pa.ArrowInvalid, pa.ArrowKeyError, OSError) as exc:
        raise CustodesError(f"{path}: cannot read as {fmt}: {exc}") from None


def _epoch_seconds(col: pa.ChunkedArray, name: str, bad: list[BadRow]) -> pa.Array:
    """A float64 array of epoch seconds; nulls where a value is missing or unparsable."""
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    t = col.type
    if pa.types.is_timestamp(t):
        if t.tz is None:  # Parquet written without a zone: the contract's times are UTC
            col = pc.assume_timezone(col, "UTC")
        us = col.cast(_UTC_US).cast(pa.int64())
        return pc.divide(us.cast(pa.float64()), 1e6)
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        values = col.cast(pa.float64())
        is_ms = pc.greater(pc.abs(values), _MS_THRESHOLD)
        return pc.if_else(is_ms, pc.divide(values, 1000.0), values)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        try:
            return _epoch_seconds(col.cast(_UTC_US), name, bad)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        out = []  # the error path only: find which rows are bad, one by one
        for i, value in enumerate(col.to_pylist()):
            try:
                out.append(None if value is None else
                           pa.scalar(value).cast(_UTC_US).value / 1e6)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                text = value.strip()
                if text.lstrip("-").isdigit():
                    n = int(text)
                    out.append(n / 1000.0 if abs(n) > _MS_THRESHOLD else float(n))
                else:
                    bad.append(BadRow(i + 1, name, f"{value!r} is not an RFC 3339 time with a zone "
                                                   "or epoch seconds/milliseconds"))
                    out.append(None)
        return pa.array(out, pa.float64())
    raise CustodesError(f"column {name!r} has type {t}, expected times")


def read_issuance(path: str | Path, fmt: str | None = None) -> tuple[list[tuple[str, str, str, float, float]], list[BadRow]]:
    """The issued tokens of one file as ``(jti, sub, kid, iat, exp)`` tuples (the fields of
    :class:`~custodes.guard.ledger.base.Issued`), and the rows that could not be read."""
    path = Path(path)
    if not path.is_file():
        raise CustodesError(f"{path}: no such file")
    table = _read(path, _format_of(path, fmt))
    missing = [c for c in NEEDED if c not in table.column_names]
    if missing:
        raise CustodesError(f"{path}: missing required column(s) {', '.join(missing)}")
    bad: list[BadRow] = []
    columns: dict[str, pa.Array] = {}
    for name in _STRINGS:
        try:
            columns[name] = pa.chunked_array(table.column(name)).cast(pa.string()).combine_chunks()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise CustodesError(f"{path}: column {name!r} cannot be read as text") from None
    for name in _TIMES:
        columns[name] = _epoch_seconds(table.column(name), name, bad)
    # Columnar: find the rows with a missing value; only those are looked at one by one.
    already = {(b.row, b.column) for b in bad}
    keep = pa.array([True] * table.num_rows, pa.bool_())
    for name in NEEDED:
        col = columns[name]
        present = pc.is_valid(col)
        if name in _STRINGS:
            present = pc.and_(present, pc.fill_null(pc.greater(pc.utf8_length(col), 0), False))
        else:  # NaN or infinity (a float column) would make a record that never expires
            finite = pc.fill_null(pc.is_finite(col), True)
            for index in pc.indices_nonzero(pc.invert(finite)).to_pylist():
                bad.append(BadRow(index + 1, name, "not a finite time"))
                already.add((index + 1, name))
            present = pc.and_(present, finite)
        keep = pc.and_(keep, present)
        for index in pc.indices_nonzero(pc.invert(present)).to_pylist():
            if (index + 1, name) not in already:
                bad.append(BadRow(index + 1, name, "missing value"))
    good = {name: pc.filter(columns[name], keep).to_pylist() for name in NEEDED}
    # Plain tuples in Issued's field order, built by zip at C speed (ledger.record_many takes them).
    tokens = list(zip(good["token_id"], good["subject"], good["kid"], good["iat"], good["exp"]))
    bad.sort(key=lambda b: (b.row, b.column))
    return tokens, bad
