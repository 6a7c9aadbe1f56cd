"""Partitioned writes: rows land in dot-named files that no reader opens, and are renamed
into place only when the whole source file has been read (then the manifest commits them).

Layout (docs/ARCHITECTURE.md): ``lake/<dataset>/date=YYYY-MM-DD/part-<seq>-<n>.parquet`` for
event datasets, ``lake/<dataset>/part-<seq>-<n>.parquet`` for reference datasets. Columns:
contract columns (contract types), ``<col>_key`` companions, ``src_ip_v4``, ``_seq``, ``_row``,
``_extra`` (see ``stored_schema``).
"""

from __future__ import annotations

import contextlib
import os
import re
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from custodes import contract, ids
from custodes.lake.seal import file_sha256
from custodes.safefile import fsync_dir
from custodes.workspace import private_dir, private_open

#: Stored file names carry the ingest sequence, so orphans of a crashed ingest are known by name.
PART_RE = re.compile(r"^part-(\d{10})-(\d{4})\.parquet$")
QUARANTINE_RE = re.compile(r"^q-(\d{10})\.parquet$")


def stored_seq(name: str) -> int | None:
    """The ingest sequence a stored part or quarantine file belongs to, read from its name
    (None for any other file)."""
    named = PART_RE.match(name) or QUARANTINE_RE.match(name)
    return int(named.group(1)) if named else None
COMPRESSION = "zstd"
ROWS_PER_FILE = 20_000_000  # roll over to a new part file beyond this


#: Datasets whose ``src_ip`` also gets ``src_ip_v4`` (see custodes.lake.ips).
V4_COLUMNS = {"access": "src_ip", "issuance": "src_ip"}


def stored_schema(dataset: str) -> pa.Schema:
    """Contract columns, ``<col>_key`` companions, ``src_ip_v4`` (access, issuance), ``_seq``,
    ``_row``, ``_extra`` (JSON text of the row's unknown source fields, NULL when none)."""
    fields = [pa.field(c.name, c.arrow_type) for c in contract.columns(dataset)]
    fields += [pa.field(f"{k}_key", pa.int64()) for k in ids.KEYED_COLUMNS.get(dataset, ())]
    if dataset in V4_COLUMNS:
        fields.append(pa.field(f"{V4_COLUMNS[dataset]}_v4", pa.int64()))
    fields += [pa.field("_seq", pa.int64()), pa.field("_row", pa.int64()), pa.field("_extra", pa.string())]
    return pa.schema(fields)


#: A column is dictionary-encoded in Parquet unless a sample of the first batch shows it hardly
#: repeats (request ids, times, their keys): building a dictionary that is then abandoned is
#: about a third of the writer's time.
DICTIONARY_SHARE = 0.5
DICTIONARY_SAMPLE = 8192


def dictionary_columns(table: pa.Table) -> list[str]:
    sample = table.slice(max(0, table.num_rows // 2 - DICTIONARY_SAMPLE // 2), DICTIONARY_SAMPLE)
    n = max(1, sample.num_rows)
    return [name for name in table.column_names
            if pa.types.is_dictionary(table.schema.field(name).type)  # written as it is
            or pc.count_distinct(sample.column(name)).as_py() <= DICTIONARY_SHARE * n]


def written_schema(stored: pa.Schema, given: pa.Schema) -> pa.Schema:
    """The stored schema, except that text columns handed over as Arrow dictionaries stay
    dictionaries: Parquet writes their dictionary as it is, instead of decoding every row and
    hashing it back into a dictionary. (Files still say "string": see ``_Part``.)"""
    kept = pa.dictionary(pa.int32(), pa.string())
    return pa.schema([
        pa.field(f.name, kept) if pa.types.is_string(f.type) and pa.types.is_dictionary(given.field(f.name).type)
        else f for f in stored])


#: Integer columns that grow steadily within a file (event time, source row number) are stored
#: DELTA_BINARY_PACKED: smaller than zstd alone and about twice as fast to decode, which is what a
#: scope or a detection spends most of its time on (every query reads ``time``).
DELTA_COLUMNS = ("time", "_row")


def column_encodings(schema: pa.Schema, dictionary: list[str] | bool) -> tuple[list[str] | bool, dict]:
    """(dictionary columns, column encodings) for a part file: the delta columns leave the
    dictionary list, since Parquet cannot do both for one column."""
    delta = [c for c in DELTA_COLUMNS if c in schema.names
             and (pa.types.is_integer(schema.field(c).type) or pa.types.is_timestamp(schema.field(c).type))]
    if not delta:
        return dictionary, {}
    names = schema.names if dictionary is True else (dictionary or [])
    return [c for c in names if c not in delta], {c: "DELTA_BINARY_PACKED" for c in delta}


QUARANTINE_SCHEMA = pa.schema([
    ("file", pa.string()), ("row", pa.int64()), ("column", pa.string()), ("reason", pa.string()),
    ("value", pa.string()), ("_seq", pa.int64()),
])


@dataclass
class StoredFile:
    path: str  # relative to the workspace root
    sha256: str
    bytes: int
    rows: int


class _Part:
    def __init__(self, final: Path, schema: pa.Schema, dictionary: list[str] | bool = True):
        self.final = final
        self.tmp = final.with_name(f".{final.name}.tmp")
        private_dir(final.parent)
        private_open(self.tmp, "wb").close()  # created 0600 before pyarrow writes into it
        dictionary, encodings = column_encodings(schema, dictionary)
        # store_schema=False: the file says "string" for a column written from an Arrow
        # dictionary, so every reader sees the stored schema, whatever the writer was handed.
        self.writer = pq.ParquetWriter(str(self.tmp), schema, compression=COMPRESSION,
                                       compression_level=1 if COMPRESSION == "zstd" else None,
                                       use_dictionary=dictionary, column_encoding=encodings or None,
                                       store_schema=False)
        self.rows = 0
        self.sealed: Future | None = None  # (sha256, size), once the file is complete

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
            fd = os.open(self.tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def seal(self) -> tuple[str, int]:
        """Close, fsync and hash the staged file: (SHA-256, size)."""
        self.close()
        return file_sha256(self.tmp)

    def discard(self) -> None:
        """Remove the staged file, even if closing it fails (a full disk, say): an abort must
        not stop at the first file and leave the others behind."""
        with contextlib.suppress(Exception):
            if self.writer is not None:
                self.writer.close()
        self.tmp.unlink(missing_ok=True)


class StagedWriter:
    """Writes one ingest's rows (one ``seq``) into staged part files, one per day."""

    def __init__(self, root: Path, dataset: str, seq: int):
        self.root = root
        self.dataset = dataset
        self.seq = seq
        self.schema = stored_schema(dataset)
        self.base = root / "lake" / dataset
        self._open: dict[str | None, _Part] = {}
        self._done: list[_Part] = []
        self._counter = 0
        self._dictionary: list[str] | None = None  # decided on the first batch
        self._written_schema: pa.Schema | None = None  # likewise
        self._latest: str | None = None  # the latest day written to
        self._in_order = True  # no day written to after a later one (see close_days_before)
        self._sealing = ThreadPoolExecutor(2, thread_name_prefix="custodes-seal")
        self._writing = ThreadPoolExecutor(2, thread_name_prefix="custodes-write")

    def _part(self, day: str | None) -> _Part:
        part = self._open.get(day)
        if part is None or part.rows >= ROWS_PER_FILE:
            if part is not None:
                self._retire(part)
            folder = self.base / f"date={day}" if day else self.base
            part = _Part(folder / f"part-{self.seq:010d}-{self._counter:04d}.parquet",
                         self._written_schema, self._dictionary)
            self._counter += 1
            self._open[day] = part
        return part

    def close_days_before(self, day: str) -> None:
        """The rows come in time order and have reached ``day``: the files of earlier days are
        complete, so they are closed, fsynced and hashed now, on a background thread, instead
        of all at the end while the other core waits. Once a day is written to after a later
        one, nothing is closed early again (an earlier day's file would have to be reopened as
        a second part)."""
        if self._latest is not None and day < self._latest:
            self._in_order = False  # this batch goes back in time: its earlier days stay open
        if not self._in_order:
            return
        for earlier in sorted(d for d in self._open if d is not None and d < day):
            self._retire(self._open.pop(earlier))

    def _retire(self, part: _Part) -> None:
        self._done.append(part)
        part.sealed = self._sealing.submit(part.seal)

    def write(self, table: pa.Table, day: str | None = None) -> None:
        self.write_days([(day, table)])

    def write_days(self, pieces: list[tuple[str | None, pa.Table]]) -> None:
        """Write the pieces of one batch, each into the file of its day. Pieces for different
        days are written two at a time (Parquet encoding and compression release the GIL):
        one writer thread was the slowest stage of a Parquet ingest. Returns when all are
        written, so a day's file receives its pieces in batch order."""
        pieces = [(day, table) for day, table in pieces if table.num_rows]
        if len({day for day, _ in pieces}) < len(pieces):  # a day twice: one piece at a time
            for piece in pieces:
                self.write_days([piece])
            return
        jobs = []
        for day, table in pieces:
            if day is not None:
                if self._latest is not None and day < self._latest:
                    self._in_order = False
                self._latest = max(day, self._latest or day)
            table = self._prepared(table)
            part = self._part(day)
            part.rows += table.num_rows
            jobs.append((part, table))
        if len(jobs) == 1:
            part, table = jobs[0]
            part.writer.write_table(table, row_group_size=1 << 20)
            return
        futures = [self._writing.submit(part.writer.write_table, table, row_group_size=1 << 20)
                   for part, table in jobs]
        wait(futures)  # every write over before any error is raised: an abort closes the files
        for future in futures:
            future.result()

    def _prepared(self, table: pa.Table) -> pa.Table:
        table = table.select(self.schema.names)
        if self._written_schema is None:
            self._written_schema = written_schema(self.schema, table.schema)
        table = table.cast(self._written_schema)
        if self._dictionary is None:
            self._dictionary = dictionary_columns(table)
        return table

    def finish(self) -> list[StoredFile]:
        """Close, fsync, hash (two files at once), and rename every staged file into place."""
        for part in list(self._open.values()):
            self._retire(part)
        self._open = {}
        try:
            digests = [p.sealed.result() for p in self._done]  # all complete before any is renamed
        finally:
            self._sealing.shutdown(wait=True)
            self._writing.shutdown(wait=True)
        stored = []
        for p, (sha, size) in zip(self._done, digests):
            os.replace(p.tmp, p.final)
            fsync_dir(p.final.parent)
            stored.append(StoredFile(str(p.final.relative_to(self.root)), sha, size, p.rows))
        self._done = []
        return stored

    def abort(self) -> None:
        self._sealing.shutdown(wait=True, cancel_futures=True)  # no file is being sealed while removed
        self._writing.shutdown(wait=True)
        for p in self._done + list(self._open.values()):
            p.discard()
        self._open, self._done = {}, []


class QuarantineWriter:
    """Bad rows of one ingest: ``quarantine/<dataset>/q-<seq>.parquet``, 0600 (personal data)."""

    def __init__(self, root: Path, dataset: str, seq: int):
        self.root = root
        self.final = root / "quarantine" / dataset / f"q-{seq:010d}.parquet"
        self.part: _Part | None = None
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if self.part is None:
            private_dir(self.root / "quarantine")
            self.part = _Part(self.final, QUARANTINE_SCHEMA)
        self.part.writer.write_table(table.cast(QUARANTINE_SCHEMA))
        self.rows += table.num_rows

    def finish(self) -> StoredFile | None:
        if self.part is None:
            return None
        sha, size = self.part.seal()
        os.replace(self.part.tmp, self.final)
        fsync_dir(self.final.parent)
        return StoredFile(str(self.final.relative_to(self.root)), sha, size, self.rows)

    def abort(self) -> None:
        if self.part is not None:
            self.part.discard()
