"""CSV input (header row): every column read as text, streamed in blocks, so that validation,
not type inference, decides what a value is."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from custodes.errors import CustodesError
from custodes.lake.arrays import int64s, row_numbers
from custodes.lake.readers import looks_binary, nul_rows

# Bytes per block: ~100k access rows, a few tens of MB of memory in flight.
BYTES_PER_ROW = 256
#: A record (with its quoted newlines) longer than this is a malformed file, not a row.
MAX_RECORD_BYTES = 1 << 26


class CsvReader:
    kind = "table"
    #: A record with the wrong number of fields, or a quote that never closes, is quarantined
    #: alone (``bad_row``, its text as the value); the batches carry ``_bad`` for it.
    row_problem = "CASE WHEN _bad IS NOT NULL THEN 'bad_row' END"
    row_value = "_bad"

    def __init__(self, source, batch_rows: int, needed: list[str] | None = None):
        self.source = source
        self.path = source.path
        self.block_size = max(1 << 16, min(batch_rows * BYTES_PER_ROW, 1 << 25))
        if looks_binary(source):
            raise CustodesError(f"{self.path}: not a CSV file (binary content)")
        names = self._header()
        self.columns = {n: None for n in names}
        self.needed = needed

    def _header(self) -> list[str]:
        self.header_end = _header_end(self.source)  # the header record alone: a bad data row is not a bad header
        header = self.source.pread(self.header_end, 0)
        try:
            names = pacsv.read_csv(pa.BufferReader(header), read_options=pacsv.ReadOptions(use_threads=False),
                                   convert_options=pacsv.ConvertOptions(column_types={})).schema.names
        except pa.ArrowInvalid as exc:
            if "Empty CSV file" in str(exc):
                raise CustodesError(f"{self.path}: empty file (a CSV needs a header row)") from None
            raise CustodesError(f"{self.path}: not a valid CSV file ({exc})") from None
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise CustodesError(f"{self.path}: header names column(s) {', '.join(sorted(dupes))} more than once")
        return [n.lstrip("\ufeff") if i == 0 else n for i, n in enumerate(names)]

    def project(self, needed: list[str]) -> None:
        self.needed = [c for c in needed if c in self.columns]

    def batches(self) -> Iterator[pa.Table]:
        """Blocks of whole records, each parsed by Arrow (multi-threaded). Arrow's own streaming
        reader reads dozens of blocks ahead, so that memory would grow with the file: cutting
        the blocks here keeps at most one in memory."""
        names = list(self.columns)
        include = self.needed if self.needed is not None else names
        convert = pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names}, include_columns=include,
            null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=True,
        )
        read = pacsv.ReadOptions(use_threads=True, column_names=names, block_size=1 << 24)
        offset = self.source.first_row
        for block, unterminated in self._blocks():
            try:
                if unterminated:
                    raise pa.ArrowInvalid("a quote never closes")  # Arrow would take it to the end
                if _bare_cr(block) and split_bad_records(block, len(self.columns)) is not None:
                    raise pa.ArrowInvalid("a bare CR")  # Arrow would end a record there; set it aside
                table = pacsv.read_csv(pa.BufferReader(block), read_options=read, convert_options=convert)
                bad = None
            except pa.ArrowInvalid:
                table, bad = self._salvage(block, offset, read, convert)
            n = table.num_rows
            if not n and bad is None:
                continue
            rows = row_numbers(offset + 1, n)
            table = table.append_column("_row", rows).append_column("_bad", pa.nulls(n, pa.string()))
            if bad is not None:
                table = _with_bad_rows(table, bad)
            table = table.append_column("_nul", _nul_column(block, offset, table))
            offset += table.num_rows
            yield table  # a Table: DuckDB reads its chunks in place
        self.source.last_row = offset

    def _salvage(self, block: bytes, offset: int, read, convert):
        """A block Arrow refused: find the records whose field count is wrong (or whose quote
        never closes), set them aside as ``bad_row``, and parse the rest. Vectorised: field
        separators outside quotes are counted per record with numpy."""
        split = split_bad_records(block, len(self.columns))
        if split is None:
            raise CustodesError(f"{self.path}: malformed CSV after data row {offset}") from None
        good_bytes, good_numbers, bad_numbers, bad_texts = split
        try:
            table = pacsv.read_csv(pa.BufferReader(good_bytes), read_options=read, convert_options=convert) \
                if good_numbers.size else _empty(self, convert)
        except pa.ArrowInvalid as exc:
            raise CustodesError(f"{self.path}: malformed CSV after data row {offset}: {exc}") from None
        if table.num_rows != good_numbers.size:
            raise CustodesError(f"{self.path}: malformed CSV after data row {offset} (records and rows disagree)")
        return table, (offset + 1 + good_numbers, offset + 1 + bad_numbers, bad_texts)

    def _blocks(self) -> Iterator[tuple[bytes, bool]]:
        """The data (after the header) in blocks that end at a record boundary: a newline with
        an even number of quote characters before it (RFC 4180 quoting); and whether the block
        (the file's last) ends inside a quoted value.

        Each block is hashed as it is handed on (``SourceFile.consume``). What follows the last
        record end is the file's last record: when the file ends with a newline, a quote that
        never closes made it (``bad_row``, as ever); when it does not, it is a record still
        being written, held back for a later ingest."""
        # Each block is read into a fresh buffer behind the previous block's unfinished record
        # and handed on as a view: every byte is copied once by read, not three more times.
        source = self.source
        offset = max(source.start, self.header_end)
        if offset > source.consumed:
            source.consume(source.pread(offset, 0))  # the header (never read past a known prefix)
        carry = b""
        while True:
            buf = bytearray(len(carry) + self.block_size)
            buf[:len(carry)] = carry
            n = source.read_into(memoryview(buf)[len(carry):], offset)
            if not n:
                break
            offset += n
            data = memoryview(buf)[:len(carry) + n]
            cut = _last_record_end(buf, len(carry) + n)
            if cut < 0:
                if len(data) > MAX_RECORD_BYTES:  # memory stays bounded, whatever the file holds
                    raise CustodesError(f"{self.path}: a record longer than {MAX_RECORD_BYTES >> 20} MiB "
                                        f"starting at byte {offset - len(data)} (a quote that never closes?)")
                carry = bytes(data)
                continue
            carry = bytes(data[cut + 1:])
            source.consume(data[:cut + 1])
            yield data[:cut + 1], False
        if carry and not carry.endswith(b"\n"):
            source.hold_back(len(carry))
        elif carry:
            source.consume(carry)
            if carry.strip():
                yield memoryview(carry), _quotes(carry) % 2 == 1


def _empty(reader: CsvReader, convert) -> pa.Table:
    include = convert.include_columns or list(reader.columns)
    return pa.table({n: pa.array([], pa.string()) for n in include})


def _with_bad_rows(table: pa.Table, bad) -> pa.Table:
    """The good rows (renumbered by their records) and one all-NULL row per bad record, with
    ``_bad`` holding its text, in file order."""
    good_rows, bad_rows, texts = bad
    table = table.set_column(table.column_names.index("_row"), "_row", pa.array(good_rows, pa.int64()))
    n = len(bad_rows)
    filler = {name: pa.nulls(n, field.type) for name, field in zip(table.column_names, table.schema)}
    filler["_row"] = pa.array(bad_rows, pa.int64())
    filler["_bad"] = pa.array(texts, pa.string())
    both = pa.concat_tables([table, pa.table(filler, schema=table.schema)])
    return both.take(pc.sort_indices(both.column("_row")))


def split_bad_records(block: bytes, n_fields: int):
    """(bytes of the good records, their 0-based record numbers, the bad records' numbers, their
    text) for a block of whole records; None when no record is bad by field count or quoting
    (then the block is malformed some other way). Empty lines are not records, as for Arrow."""
    block = bytes(block)
    raw = np.frombuffer(block, dtype=np.uint8)
    quotes = np.flatnonzero(raw == 34)
    ends = _record_ends(raw)
    unterminated = len(quotes) % 2 == 1  # the last record's quote never closes
    if not len(ends) or ends[-1] != len(raw) - 1:
        ends = np.append(ends, len(raw))  # the last record has no final newline
    starts = np.concatenate(([0], ends[:-1] + 1))
    commas = np.flatnonzero(raw == 44)
    if len(quotes):
        commas = commas[np.searchsorted(quotes, commas) % 2 == 0]
    fields = np.diff(np.searchsorted(commas, np.concatenate(([0], ends)))) + 1
    # empty records (blank lines, a lone \r) are skipped by the parser: not rows
    cr = (ends > starts) & (raw[np.maximum(ends - 1, 0)] == 13)
    is_row = ends - starts - cr > 0
    bad = is_row & ((fields != n_fields) | _has_bare_cr(raw, quotes, ends))
    if unterminated:
        bad[-1] = is_row[-1]
    if not bad.any():
        return None
    numbers = np.cumsum(is_row) - 1  # 0-based data-row number of each record
    cut = np.zeros(len(raw) + 1, dtype=np.int32)
    np.add.at(cut, starts[bad], 1)
    np.add.at(cut, np.minimum(ends[bad] + 1, len(raw)), -1)
    keep = np.cumsum(cut)[:len(raw)] == 0
    texts = [block[a:b].decode("utf-8", "replace").rstrip("\r") for a, b in zip(starts[bad], ends[bad])]
    good = is_row & ~bad
    return raw[keep].tobytes(), numbers[good], numbers[bad], texts


def _bare_cr(block) -> bool:
    """Whether ``block`` may hold a carriage return outside a CRLF line end (or inside quotes:
    ``split_bad_records`` tells). Arrow ends a record at a bare one, so the records it returns
    would no longer be the file's lines: such a record is a ``bad_row`` instead. (A find that
    misses, at memchr speed, for LF files; two counts for CRLF files. ``_blocks`` hands out
    views from the start of their buffer, which is searched in place.)"""
    data = block.obj if isinstance(block, memoryview) and block.obj is not None else block
    end = len(block)
    if data.find(b"\r", 0, end) < 0:
        return False
    return data.count(b"\r", 0, end) != data.count(b"\r\n", 0, end)


def _has_bare_cr(raw: np.ndarray, quotes: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Per record: holds a CR outside quotes that is not the CR of its CRLF end."""
    flags = np.zeros(len(ends), dtype=bool)
    crs = np.flatnonzero(raw == 13)
    if not len(crs):
        return flags
    after = np.minimum(crs + 1, len(raw) - 1)
    bare = crs[(crs + 1 >= len(raw)) | (raw[after] != 10)]
    if len(quotes):
        bare = bare[np.searchsorted(quotes, bare) % 2 == 0]
    flags[np.minimum(np.searchsorted(ends, bare), len(ends) - 1)] = True
    return flags


def _header_end(source) -> int:
    """The length of the header record (which may itself hold quoted newlines)."""
    data = b""
    while True:
        chunk = source.pread(1 << 16, len(data))
        data += chunk
        ends = _record_ends(np.frombuffer(data, dtype=np.uint8))
        if len(ends):
            return int(ends[0]) + 1
        if not chunk:
            return len(data)
        if len(data) > MAX_RECORD_BYTES:
            raise CustodesError(f"{source.path}: no header row ends within {MAX_RECORD_BYTES >> 20} MiB")


def _record_ends(raw: np.ndarray) -> np.ndarray:
    """Positions of the newlines that end a record: those with an even number of quote
    characters before them (inside a quoted value, a newline is data)."""
    newlines = np.flatnonzero(raw == 10)
    quotes = np.flatnonzero(raw == 34)
    if not len(quotes):
        return newlines
    return newlines[np.searchsorted(quotes, newlines) % 2 == 0]


def _last_record_end(data: bytes | bytearray, end: int | None = None) -> int:
    """The last newline that ends a record (``data`` starts at a record boundary): the last
    newline with an even number of quotes before it. Searched from the end with bytes.rfind and
    bytes.count (memchr speed) instead of listing every newline of the block."""
    pos = data.rfind(b"\n", 0, len(data) if end is None else end)
    if pos < 0:
        return -1
    quotes = _quotes(data, pos)
    while quotes % 2:  # inside a quoted value: step back to the previous newline
        prev = data.rfind(b"\n", 0, pos)
        if prev < 0:
            return -1
        quotes -= data.count(b'"', prev, pos)
        pos = prev
    return pos


def _quotes(data: bytes, end: int | None = None) -> int:
    """Quote characters in ``data[:end]`` (numpy's SIMD compare: several times bytes.count)."""
    return int(np.count_nonzero(np.frombuffer(data, dtype=np.uint8, count=len(data) if end is None else end) == 34))


def _nul_column(block, offset: int, table: pa.Table) -> pa.Array:
    """``_nul`` for the rows of ``block`` (data rows ``offset + 1``...): NULL, unless the block
    holds a NUL byte; then true for the rows whose record holds one."""
    raw = np.frombuffer(block, dtype=np.uint8)
    if not len(raw) or raw.min() != 0:  # the common case: one vectorised pass, no record work
        return pa.nulls(table.num_rows, pa.bool_())
    ends = _record_ends(raw)
    if not len(ends) or ends[-1] != len(raw) - 1:
        ends = np.append(ends, len(raw))
    starts = np.concatenate(([0], ends[:-1] + 1))
    flags = nul_rows(raw, starts, ends)
    cr = (ends > starts) & (raw[np.maximum(ends - 1, 0)] == 13)
    is_row = ends - starts - cr > 0  # blank records are not rows (as in split_bad_records)
    numbers = offset + np.cumsum(is_row)  # the data-row number of each record
    return pc.is_in(table.column("_row"), int64s(numbers[flags & is_row]))
