"""``custodes ingest``: read, validate, store, seal, commit; one source file at a time.

Each file is its own unit of work with its own ingest sequence number (``_seq``): its rows are
written to staged files, renamed into place, and committed by writing its manifest entry last.
A crash at any moment leaves either a committed file or nothing (the next ingest removes the
leftovers), so re-running loads every row exactly once.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from custodes import contract, ids
from custodes.errors import CustodesError, UsageError
from custodes.lake import chain, manifest, mapping as mapping_mod, seal
from custodes.lake.arrays import bools, null, numbers, text
from custodes.lake.ips import ip_column, type_ips
from custodes.lake.keys import Remembered, key_columns
from custodes.lake.pipeline import ordered_map
from custodes.lake.readers import format_of, line_based, open_reader
from custodes.lake.readers.source import SourceFile
from custodes.lake.sources import SourceIndex, expand
from custodes.lake.store import QuarantineWriter, StagedWriter
from custodes.lake.timeparse import TimeWindow
from custodes.lake.validate import (
    DEFAULTS, batch_sql, has_unnamed_nul, literal, name_nul_columns, nul_columns_sql, passes_through,
)
from custodes.progress import QUIET, Bar
from custodes.timefmt import EPOCH, MICROS_PER_DAY, from_epoch_us, iso
from custodes.workspace import Workspace

DEFAULT_BATCH_ROWS = 262_144
#: Batches validated at once (each query on its own DuckDB cursor): one query on one Arrow batch
#: runs on one core, and the machine this was tuned on has two.
VALIDATORS = 2


@dataclass
class FileReport:
    path: str
    format: str
    seq: int | None
    rows: int = 0
    quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    skipped: bool = False  # already ingested (same content), or nothing new in it
    error: str | None = None  # why nothing of it was loaded (the other files went on)
    note: str | None = None  # not read (vanished, unknown extension), or read from a known prefix on
    from_byte: int = 0  # read from here: the bytes before were loaded already (a grown or rotated file)
    held_back: int = 0  # bytes of an unfinished last line, left for a later ingest


@dataclass
class IngestReport:
    dataset: str
    files: list[FileReport] = field(default_factory=list)
    removed_orphans: int = 0
    warnings: list[str] = field(default_factory=list)  # committed, but something after it failed

    @property
    def failed(self) -> list[FileReport]:
        return [f for f in self.files if f.error]

    @property
    def committed(self) -> int:
        return sum(1 for f in self.files if f.seq is not None and not (f.skipped or f.error))

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.files)

    @property
    def reasons(self) -> dict[str, int]:
        total: Counter = Counter()
        for f in self.files:
            total.update(f.reasons)
        return dict(sorted(total.items()))

    def to_dict(self) -> dict:
        return {
            "dataset": self.dataset, "rows": self.rows, "quarantined": self.quarantined,
            "reasons": self.reasons, "skipped": sum(f.skipped for f in self.files),
            "failed": len(self.failed), "removed_orphans": self.removed_orphans, "warnings": self.warnings,
            "files": [asdict(f) for f in self.files],
        }


class IngestFailed(CustodesError):
    """Some files could not be loaded (each left nothing behind); the others were. ``report``
    says which: its message is one line per failing file."""

    def __init__(self, report: IngestReport):
        self.report = report
        super().__init__("\n".join(f.error for f in report.failed))


def _crash_point(name: str) -> None:
    """Fault injection for the crash-safety tests: CUSTODES_LAKE_CRASH_AT=<name> kills this
    process with SIGKILL at that point, exactly as `kill -9` would."""
    if os.environ.get("CUSTODES_LAKE_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def ingest(workspace: Workspace, dataset: str, paths, fmt: str | None = None, mapping=None,
           batch_rows: int | None = None, progress: Bar = QUIET) -> IngestReport:
    """Load ``paths`` (files, directories, globs) into ``dataset``; see the module docstring.

    ``progress`` is told each source file, the rows of each batch and each file done (the CLI
    passes a bar when stderr is a terminal: custodes.progress)."""
    if dataset not in contract.DATASETS:
        raise UsageError(f"unknown dataset {dataset!r}; expected one of {', '.join(contract.DATASET_NAMES)}")
    if isinstance(paths, (str, Path)):
        paths = [paths]
    batch_rows = int(batch_rows or os.environ.get("CUSTODES_INGEST_BATCH_ROWS") or DEFAULT_BATCH_ROWS)
    files = expand(list(paths))
    fields = mapping_mod.load_mapping(Path(mapping) if mapping else None, dataset)
    formats = [(f.path, format_of(f.path, fmt, f.named)) for f in files]
    window = TimeWindow.from_setting(workspace.setting("ingest.time_window"), dt.datetime.now(dt.timezone.utc))
    report = IngestReport(dataset)
    progress.start(len(formats))
    with manifest.lock(workspace):
        done, keys = _open_chain(workspace, report)
        known = SourceIndex(dataset, done)
        last = done[-1] if done else None
        for path, file_fmt in formats:
            seq = (last["seq"] if last else 0) + 1
            progress.item(Path(path).name)
            file_report, entry = _ingest_source(workspace, dataset, path, file_fmt, fields, seq, batch_rows,
                                                known, window, progress)
            progress.done()
            if entry is None:  # already ingested, not read, or failed: nothing to commit
                report.files.append(file_report)
                continue
            try:
                last = _commit(workspace, keys, entry, last, report)
            except CustodesError as exc:  # its stored files were removed: this file failed, the others go on
                report.files.append(FileReport(file_report.path, file_report.format, None, error=str(exc)))
                continue
            known.add(last)
            report.files.append(file_report)
    if report.failed:
        raise IngestFailed(report)
    return report


def _open_chain(ws: Workspace, report: IngestReport) -> tuple[list[dict], seal.Keys]:
    """Refuse a chain that does not check out, before anything changes; then recover (see
    custodes.lake.chain.open_for_ingest). Returns the committed entries and the seal keys."""
    opened = chain.open_for_ingest(ws)
    report.removed_orphans = opened.removed
    report.warnings += opened.warnings
    return opened.chain.entries, opened.keys


def _commit(ws: Workspace, keys: seal.Keys, entry: dict, last: dict | None, report: IngestReport) -> dict:
    """Commit one file's entry, then move the head. A commit that fails removes the files this
    ingest renamed into place; a head that cannot be written after the commit is a warning (the
    rows are committed; the next ingest moves the head over the signed entry)."""
    _crash_point("before_commit")
    try:
        committed = manifest.commit(ws, entry, last, keys)
    except Exception as exc:
        if manifest.entry_path(ws, entry["seq"]).exists():  # in place; only the directory's fsync failed
            report.warnings.append(f"seq {entry['seq']} is committed, but not yet durable ({_why(exc)})")
            committed = manifest.read_entry(manifest.entry_path(ws, entry["seq"]))
            return _publish(ws, keys, committed, report)
        manifest.remove_stored(ws, entry)
        raise CustodesError(f"{entry['source']['path']}: commit of seq {entry['seq']} failed ({_why(exc)}); "
                            f"its stored files were removed, nothing of it was loaded") from None
    _crash_point("after_commit")
    return _publish(ws, keys, committed, report)


def _publish(ws: Workspace, keys: seal.Keys, committed: dict, report: IngestReport) -> dict:
    try:
        report.warnings += manifest.publish_head(ws, committed, keys)
    except OSError as exc:
        report.warnings.append(f"seq {committed['seq']} is committed, but the seal head could not be written "
                               f"({_why(exc)}); the next ingest moves it")
    return committed


def _why(exc: BaseException) -> str:
    """One line for an error: for an OSError, the system's words for its errno (Arrow's errors
    carry the errno only in their text: "Error writing bytes to file. Detail: [errno 28] ...")."""
    code = getattr(exc, "errno", None)
    if isinstance(exc, OSError) and code is None:
        found = re.search(r"\[errno (\d+)\]", str(exc), re.IGNORECASE)
        code = int(found.group(1)) if found else None
    text = os.strerror(code) if code else getattr(exc, "strerror", None) or str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


class _AlreadyIngested(Exception):
    def __init__(self, seq: int):
        self.seq = seq


def _ingest_source(ws: Workspace, dataset, path: Path, fmt: str | None, fields, seq, batch_rows, known: SourceIndex,
                   window: TimeWindow, progress: Bar = QUIET) -> tuple[FileReport, dict | None]:
    """One source file, up to its manifest entry (None when there is nothing to commit). Every
    failure of this one file is reported in its FileReport, and the others go on: a file that
    changed while it was read, bad input, a full disk (it leaves nothing behind)."""
    if fmt is None:
        return FileReport(str(path), "", None, note="not read: unknown extension (give --format to read it)"), None
    try:
        source = SourceFile.open(path)
    except FileNotFoundError:
        return FileReport(str(path), fmt, None, note="not read: it vanished before it was opened"), None
    except OSError as exc:
        return FileReport(str(path), fmt, None, error=f"{path}: {_why(exc)}"), None
    except CustodesError as exc:
        return FileReport(str(path), fmt, None, error=str(exc)), None
    with source:
        try:
            prefix = _known_prefix(source, fmt, known)
            if prefix is not None and prefix.bytes == source.size:
                return FileReport(str(path), fmt, prefix.seq, skipped=True), None
            report, entry = _ingest_file(ws, dataset, source, fmt, fields, seq, batch_rows, window,
                                         lambda: _not_ingested(source, known), progress)
        except _AlreadyIngested as dup:
            return FileReport(str(path), fmt, dup.seq, skipped=True), None
        except CustodesError as exc:
            return FileReport(str(path), fmt, None, error=str(exc)), None
        except OSError as exc:  # a full disk, an I/O error: this file failed, the others may not
            return FileReport(str(path), fmt, None, error=f"{path}: {_why(exc)}"), None
        report.from_byte, report.held_back = source.start, source.held_back
        if prefix is not None and source.consumed == source.start:
            return FileReport(str(path), fmt, prefix.seq, skipped=True, from_byte=source.start,
                              held_back=source.held_back, note=f"nothing new after the {source.start} bytes "
                              f"ingested as seq {prefix.seq}"), None
        if prefix is not None:
            report.note = (f"read from byte {source.start} (row {source.first_row + 1}): the bytes before were "
                           f"ingested as seq {prefix.seq}")
        entry["source"] = source.record(fmt)
    return report, entry


def _known_prefix(source: SourceFile, fmt: str, known: SourceIndex):
    """The recorded source this file starts with (reading then starts after it), or None. Only
    a line-based file can go on from a prefix; any file can equal a recorded one."""
    whole = line_based(source, fmt)
    candidates = [k for k in known.candidates(source.head, source.size)
                  if k.bytes == source.size or whole and k.format == fmt and k.last_row is not None]
    return source.skip_known_prefix(candidates) if candidates else None


def _not_ingested(source: SourceFile, known: SourceIndex) -> None:
    """Before anything is renamed into place: content recorded already (by an entry written
    before sources recorded their first bytes, which hashed whole files) is not loaded twice."""
    seq = known.seq_of(source.sha256())
    if seq is None and source.held_back:
        seq = known.seq_of(source.whole_sha256())
    if seq is not None:
        raise _AlreadyIngested(seq)


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")  # stdout is for JSON only
    # One thread a query: the parallelism is across stages and batches (VALIDATORS), and a
    # single-threaded scan keeps a batch's rows in order (see _attach).
    con.execute("SET threads = 1")
    return con


def _plan(dataset, reader, fields, fmt, path):
    if reader.kind == "table":
        plan = mapping_mod.plan_table(dataset, reader, fields, path)
        reader.project(plan.needed)
        return plan
    return mapping_mod.plan_json(dataset, fields, fmt)


def _ingest_file(ws: Workspace, dataset, source: SourceFile, fmt, fields, seq, batch_rows, window: TimeWindow | None = None,
                 check_new=lambda: None, progress: Bar = QUIET):
    """Ingest one source file as ``seq`` up to its manifest entry (not committed). Before
    anything is renamed into place, the file must not have changed while it was read
    (``SourceFile.check_unchanged``), and ``check_new`` raises ``_AlreadyIngested`` when its
    content turns out to be ingested already; either way the staged files are then removed."""
    path = source.path
    reader = open_reader(source, fmt, batch_rows)
    plan = _plan(dataset, reader, fields, fmt, path)
    store = StagedWriter(ws.root, dataset, seq)
    quarantine = QuarantineWriter(ws.root, dataset, seq)
    report = FileReport(str(path), fmt, seq)
    reasons: Counter = Counter()
    times: list = []
    con = _connect()
    ips_con, keys_con = con.cursor(), con.cursor()
    # Addresses are typed on this thread while the other keys are hashed on another: one after
    # the other, they were the slowest stage of a Parquet ingest.
    keyer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="custodes-keys")
    keyed = tuple(c for c in ids.KEYED_COLUMNS.get(dataset, ()) if c != ip_column(dataset))
    remembered = Remembered()  # the batches of a Parquet row group share its dictionaries
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="custodes-writer")
    pending = None
    try:
        first = True
        for batch, result in _validated(con, reader, plan, dataset, seq, path, window):
            keys = keyer.submit(key_columns, keys_con, result, keyed, remembered)
            if first and reader.kind == "json":
                _require_paths(con, batch, plan, result, path, dataset)
            result = type_ips(ips_con, dataset, result)
            for name, values in keys.result():
                result = result.append_column(name, values)
            good, bad = _split(result)
            if first and reader.kind == "json":
                _require_columns(path, dataset, bad, batch.num_rows)
            first = False
            del batch
            if bad.num_rows:
                reasons.update(_reason_counts(bad))
                bad = _quarantine_rows(bad, path, seq)
            report.rows += good.num_rows
            report.quarantined += bad.num_rows
            progress.rows(good.num_rows + bad.num_rows)  # per batch, never per row
            if pending is not None:
                pending.result()  # one batch written while the next is validated; no more
            pending = writer.submit(_write, store, quarantine, dataset, good, bad, times)
            _crash_point("mid_file")
        if pending is not None:
            pending.result()
        source.check_unchanged()
        check_new()
        stored = store.finish()
        _crash_point("after_rename")
        qfile = quarantine.finish()
    except BaseException:
        if pending is not None:
            pending.cancel()
            _quietly(pending)
        store.abort()
        quarantine.abort()
        raise
    finally:
        writer.shutdown(wait=True)
        keyer.shutdown(wait=True)
        keys_con.close()
        ips_con.close()
        con.close()
    report.reasons = dict(sorted(reasons.items()))
    entry = {
        "seq": seq, "dataset": dataset, "rows": report.rows, "quarantined": report.quarantined,
        "reasons": report.reasons,
        "first_time": iso(min((t[0] for t in times), default=None), digits=6),
        "last_time": iso(max((t[1] for t in times), default=None), digits=6),
        "files": [asdict(f) for f in stored],
        "quarantine_file": asdict(qfile) if qfile else None,
        "committed_at": iso(dt.datetime.now(dt.timezone.utc), digits=6),
    }
    return report, entry


def _validated(con, reader, plan, dataset, seq, path, window=None):
    """(input batch, validated table) per batch read. (DuckDB could read Parquet itself, but its
    Arrow stream holds the whole result in memory: batches keep memory bounded.)"""
    def query(from_sql):
        return batch_sql(dataset, plan.sources, from_sql, seq, plan.row_problem, plan.extra, plan.row_value,
                         window=window, nul=plan.nul, row_text=plan.row_text)

    sql = query(plan.from_sql)
    careful = plan.careful_from_sql and query(plan.careful_from_sql)
    passthrough = {c.name: plan.sources[c.name].passthrough for c in contract.columns(dataset)
                   if c.name in plan.sources and passes_through(dataset, c, plan.sources[c.name])}
    cursors = [con.cursor() for _ in range(VALIDATORS)]  # one per slot: "batch" is registered per cursor

    nuls = nul_columns_sql(dataset, plan.sources, plan.careful_from_sql or plan.from_sql, plan.nul)

    def validate(slot: int, batch):
        result = _attach(_run(cursors[slot], sql, batch, path, careful), batch, passthrough)
        if has_unnamed_nul(result):  # rare: name each NUL's column with a query of those rows only
            named = _run(cursors[slot], nuls, batch, path).to_pylist()
            result = name_nul_columns(result, {r["_row"]: (r["col"], r["val"]) for r in named})
        return batch, result

    try:
        yield from ordered_map(validate, reader.batches(), VALIDATORS)
    finally:
        for cursor in cursors:
            cursor.close()


def _attach(result: pa.Table, batch, passthrough: dict[str, str]) -> pa.Table:
    """Add the columns stored as the source gave them (``validate.passes_through``) straight from
    the batch: copying them through DuckDB and back was a third of the validating query's time.
    DuckDB 2.0 may hand a parallel scan's chunks back out of order, so the result is put back in
    the batch's order (``_row`` ascends in a tabular batch) before the columns are lined up."""
    if not passthrough:
        return result
    rows = result.column("_row")
    if not pc.all(pc.equal(rows, batch.column("_row"))).as_py():
        result = result.take(pc.sort_indices(rows))
        if not pc.all(pc.equal(result.column("_row"), batch.column("_row"))).as_py():
            raise RuntimeError("the validating query lost or duplicated rows")  # never guess
    for name, source in passthrough.items():
        result = result.append_column(name, _empty_as_null(batch.column(source)))
    return result


_EMPTY = text("")


def _empty_as_null(values):
    """'' is a missing value (CONTRACT.md), as the query's NULLIF makes it for the others.
    A dictionary column stays one (see readers.parquet), with '' among its values made NULL."""
    if pa.types.is_dictionary(values.type):
        return _dictionary_empty_as_null(values)
    if values.type != pa.string():
        values = values.cast(pa.string())
    empty = pc.equal(values, _EMPTY)
    if not pc.any(empty).as_py():
        return values
    return pc.if_else(empty, null(pa.string()), values)


def _dictionary_empty_as_null(values):
    values = values.cast(pa.dictionary(pa.int32(), pa.string()))
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()  # one dictionary for the batch
    empty = pc.equal(values.dictionary, _EMPTY)
    if not pc.any(empty).as_py():
        return values
    indices = pc.if_else(pc.is_in(values.indices, pc.indices_nonzero(empty).cast(pa.int32())),
                         null(pa.int32()), values.indices)
    return pa.DictionaryArray.from_arrays(indices, values.dictionary)


def _run(con, sql: str, batch: pa.RecordBatch, path: Path, careful: str | None = None) -> pa.Table:
    con.register("batch", batch)
    try:
        try:
            return con.sql(sql).to_arrow_table()
        except duckdb.Error:
            if not careful:
                raise
        return con.sql(careful).to_arrow_table()
    except duckdb.Error as exc:
        raise CustodesError(f"{path}: could not read rows {batch.column('_row')[0]}-"
                            f"{batch.column('_row')[-1]}: {str(exc).splitlines()[0]}") from None
    finally:
        con.unregister("batch")


def _split(result: pa.Table) -> tuple[pa.Table, pa.Table]:
    problem = result.column("_problem")
    if problem.null_count == len(problem):
        return result.drop_columns(["_problem"]), result.slice(0, 0)
    is_bad = pc.is_valid(problem)
    return result.filter(pc.invert(is_bad)).drop_columns(["_problem"]), result.filter(is_bad)


def _quietly(future) -> None:
    try:
        future.result()
    except BaseException:  # noqa: BLE001 - the first error is the one being raised
        pass


def _write(store: StagedWriter, quarantine: QuarantineWriter, dataset: str, good: pa.Table,
           bad: pa.Table, times: list) -> None:
    _store(store, dataset, good, times)
    if bad.num_rows:
        quarantine.write(bad)


def _store(store: StagedWriter, dataset: str, good: pa.Table, times: list) -> None:
    if not good.num_rows:
        return
    time_col = contract.EVENT_TIME_COLUMN.get(dataset)
    if not time_col:
        store.write(good)
        return
    micros = numbers(good.column(time_col))
    times.append((from_epoch_us(int(micros.min())), from_epoch_us(int(micros.max()))))
    days = micros // MICROS_PER_DAY  # the UTC day, as numbers: no date text per row
    if np.all(days[1:] >= days[:-1]):  # in time order (one day, or a log): day slices, no copy
        store.close_days_before(_day_name(int(days[0])))
        bounds = np.flatnonzero(days[1:] != days[:-1]) + 1
        store.write_days([(_day_name(int(days[start])), good.slice(start, end - start))
                          for start, end in zip([0, *bounds.tolist()], [*bounds.tolist(), len(days)])])
        return
    store.write_days([(_day_name(day), good.filter(bools(days == day))) for day in np.unique(days).tolist()])


def _day_name(day: int) -> str:
    return (EPOCH + dt.timedelta(days=day)).date().isoformat()


def _reason_counts(bad: pa.Table) -> dict[str, int]:
    reasons = pc.struct_field(bad.column("_problem"), "reason")
    return {r["values"]: r["counts"] for r in pc.value_counts(reasons).to_pylist()}


def _quarantine_rows(bad: pa.Table, path: Path, seq: int) -> pa.Table:
    problem = bad.column("_problem")
    n = bad.num_rows
    return pa.table({
        "file": pa.repeat(pa.scalar(str(path), pa.string()), n),
        "row": bad.column("_row"),
        "column": pc.struct_field(problem, "column"),
        "reason": pc.struct_field(problem, "reason"),
        "value": pc.struct_field(problem, "value"),
        "_seq": pa.repeat(pa.scalar(seq, pa.int64()), n),
    })


def _require_columns(path: Path, dataset: str, bad: pa.Table, n: int) -> None:
    """JSON has no header: a required column absent from every row of the first batch is a
    missing column (one clear error), not a quarantine of the whole file."""
    if not n or bad.num_rows != n:
        return
    problem = bad.column("_problem")
    reasons = set(pc.struct_field(problem, "reason").to_pylist())
    columns = set(pc.struct_field(problem, "column").to_pylist())
    if reasons == {"missing"} and len(columns) == 1:
        raise CustodesError(f"{path}: missing required column {columns.pop()!r} (no row of the first "
                            f"{n} has it; map it with --map FILE if it has another name)")


def _require_paths(con, batch, plan, result: pa.Table, path: Path, dataset: str) -> None:
    """A JSON path the mapping names must be in some row of the first batch: a mistyped or
    absent path (``actor_id: jwt.sub`` on lines without ``jwt``) would load NULL into every
    row. Only the paths whose column came out all NULL (or that a contract default fills)
    are looked up, in one parse of the batch's lines."""
    suspects = [p for p, col in (plan.required_paths or {}).items()
                if (dataset, col) in DEFAULTS or result.column(col).null_count == result.num_rows]
    if not suspects or not batch.num_rows:
        return
    pointers = ", ".join(literal(mapping_mod.json_pointer(p)) for p in suspects)
    counts = ", ".join(f"count(*) FILTER (WHERE _p[{i + 1}] IS NOT NULL)" for i in range(len(suspects)))
    cursor = con.cursor()
    try:
        cursor.register("batch", batch)
        found = cursor.execute(f"SELECT [{counts}] FROM (SELECT CASE WHEN left(_json, 1) = '{{' AND json_valid(_json) "
                               f"THEN json_extract(_json, [{pointers}]) END AS _p FROM batch)").fetchone()[0]
    finally:
        cursor.close()
    for dotted, n in zip(suspects, found):
        if not n:
            col = plan.required_paths[dotted]
            raise CustodesError(f"{path}: the mapping takes {col} from {dotted!r}, which no row of the first "
                                f"{batch.num_rows} has (a typo? if it may be absent, map it as "
                                f"{col}: {{path: {dotted}, optional: true}})")
