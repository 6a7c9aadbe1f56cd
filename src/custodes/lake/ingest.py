"""``custodes ingest``: read, validate, store, seal, commit; one source file at a time.

Each file is its own unit of work with its own ingest sequence number (``_seq``): its rows are
written to staged files, renamed into place, and committed by writing its manifest entry last.
A crash at any moment leaves either a committed file or nothing (the next ingest removes the
leftovers), so re-running loads every row exactly once.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
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
from custodes.lake.readers import format_of, open_reader
from custodes.lake.seal import file_sha256
from custodes.lake.sources import expand
from custodes.lake.store import QuarantineWriter, StagedWriter
from custodes.lake.validate import batch_sql, passes_through

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
    skipped: bool = False  # already ingested (same content)


@dataclass
class IngestReport:
    dataset: str
    files: list[FileReport] = field(default_factory=list)
    removed_orphans: int = 0
    warnings: list[str] = field(default_factory=list)  # committed, but something after it failed

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
            "removed_orphans": self.removed_orphans, "warnings": self.warnings,
            "files": [asdict(f) for f in self.files],
        }


def _crash_point(name: str) -> None:
    """Fault injection for the crash-safety tests: CUSTODES_LAKE_CRASH_AT=<name> kills this
    process with SIGKILL at that point, exactly as `kill -9` would."""
    if os.environ.get("CUSTODES_LAKE_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def ingest(workspace, dataset: str, paths, fmt: str | None = None, mapping=None,
           batch_rows: int | None = None, progress=None) -> IngestReport:
    """Load ``paths`` (files, directories, globs) into ``dataset``; see the module docstring.

    ``progress``, when given, is called with one line per source file (the CLI passes it when
    stderr is a terminal)."""
    if dataset not in contract.DATASETS:
        raise UsageError(f"unknown dataset {dataset!r}; expected one of {', '.join(contract.DATASET_NAMES)}")
    if isinstance(paths, (str, Path)):
        paths = [paths]
    batch_rows = int(batch_rows or os.environ.get("CUSTODES_INGEST_BATCH_ROWS") or DEFAULT_BATCH_ROWS)
    files = expand(list(paths))
    fields = mapping_mod.load_mapping(Path(mapping) if mapping else None, dataset)
    formats = [(f, format_of(f, fmt)) for f in files]
    report = IngestReport(dataset)
    with manifest.lock(workspace), ThreadPoolExecutor(1, thread_name_prefix="custodes-hash") as hasher:
        done, keys = _open_chain(workspace, report)
        known = manifest.ingested_sources(done)
        seen = {(e["dataset"], e["source"]["path"], e["source"]["bytes"]) for e in done}
        last = done[-1] if done else None
        for path, file_fmt in formats:
            digest = _source_digest(hasher, path, (dataset, str(path.resolve()), path.stat().st_size) in seen)
            if digest.done() and (dataset, digest.result()[0]) in known:
                report.files.append(FileReport(str(path), file_fmt, known[(dataset, digest.result()[0])], skipped=True))
                continue
            seq = (last["seq"] if last else 0) + 1
            try:
                file_report, entry = _ingest_file(workspace, dataset, path, file_fmt, fields, seq, batch_rows,
                                                  lambda: _not_ingested(digest, dataset, known))
            except _AlreadyIngested as dup:
                report.files.append(FileReport(str(path), file_fmt, dup.seq, skipped=True))
                continue
            except Exception:
                # A copy of an ingested file is skipped even if reading it fails this time (another
                # --map, a changed contract, a full disk): its content is in the lake already.
                seq = _ingested_as(digest, dataset, known)
                if seq is None:
                    raise
                report.files.append(FileReport(str(path), file_fmt, seq, skipped=True))
                continue
            sha, size = digest.result()
            entry["source"] = {"path": str(path.resolve()), "sha256": sha, "bytes": size, "format": file_fmt}
            last = _commit(workspace, keys, entry, last, report)
            known[(dataset, sha)] = seq
            report.files.append(file_report)
            if progress:
                progress(f"{path}: {file_report.rows} rows, {file_report.quarantined} quarantined (seq {seq})")
    return report


def _open_chain(ws, report: IngestReport) -> tuple[list[dict], seal.Keys]:
    """Refuse a chain that does not check out, before anything changes; then recover (see
    custodes.lake.chain.open_for_ingest). Returns the committed entries and the seal keys."""
    opened = chain.open_for_ingest(ws)
    report.removed_orphans = opened.removed
    report.warnings += opened.warnings
    return opened.chain.entries, opened.keys


def _commit(ws, keys: seal.Keys, entry: dict, last: dict | None, report: IngestReport) -> dict:
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


def _publish(ws, keys: seal.Keys, committed: dict, report: IngestReport) -> dict:
    try:
        report.warnings += manifest.publish_head(ws, committed, keys)
    except OSError as exc:
        report.warnings.append(f"seq {committed['seq']} is committed, but the seal head could not be written "
                               f"({_why(exc)}); the next ingest moves it")
    return committed


def _why(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


class _AlreadyIngested(Exception):
    def __init__(self, seq: int):
        self.seq = seq


def _source_digest(hasher: ThreadPoolExecutor, path: Path, seen: bool) -> Future:
    """The source file's (SHA-256, size), which makes ingest content-addressed. A file seen
    before (same path and size) is hashed first, so that re-running over a folder skips it
    without reading it twice. Any other file is hashed on a thread while it is ingested:
    hashing a 558 MB JSON file first took 0.46 s with the second core idle. Its digest is
    checked before its rows are renamed into place, so a copy of an ingested file under a
    new name is still skipped, only later."""
    if seen:
        done: Future = Future()
        done.set_result(file_sha256(path))
        return done
    return hasher.submit(file_sha256, path)


def _ingested_as(digest: Future, dataset: str, known: dict) -> int | None:
    """The seq that ingested this content already, or None (also when it could not be hashed)."""
    try:
        sha, _ = digest.result()
    except Exception:  # noqa: BLE001 - the ingest's own error is the one to report
        return None
    return known.get((dataset, sha))


def _not_ingested(digest: Future, dataset: str, known: dict) -> None:
    sha, _ = digest.result()
    if (dataset, sha) in known:
        raise _AlreadyIngested(known[(dataset, sha)])


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


def _ingest_file(ws, dataset, path: Path, fmt, fields, seq, batch_rows, check_new=lambda: None):
    """Ingest one source file as ``seq`` up to its manifest entry (not committed). ``check_new``
    raises ``_AlreadyIngested`` when the file's content turns out to be ingested already: it
    is called before anything is renamed into place, and the staged files are then removed."""
    reader = open_reader(path, fmt, batch_rows)
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
        for n_in, result in _validated(con, reader, plan, dataset, seq, path):
            keys = keyer.submit(key_columns, keys_con, result, keyed, remembered)
            result = type_ips(ips_con, dataset, result)
            for name, values in keys.result():
                result = result.append_column(name, values)
            good, bad = _split(result)
            if first and reader.kind == "json":
                _require_columns(path, dataset, bad, n_in)
            first = False
            if bad.num_rows:
                reasons.update(_reason_counts(bad))
                bad = _quarantine_rows(bad, path, seq)
            report.rows += good.num_rows
            report.quarantined += bad.num_rows
            if pending is not None:
                pending.result()  # one batch written while the next is validated; no more
            pending = writer.submit(_write, store, quarantine, dataset, good, bad, times)
            _crash_point("mid_file")
        if pending is not None:
            pending.result()
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
        "first_time": _iso(min((t[0] for t in times), default=None)),
        "last_time": _iso(max((t[1] for t in times), default=None)),
        "files": [asdict(f) for f in stored],
        "quarantine_file": asdict(qfile) if qfile else None,
        "committed_at": _iso(dt.datetime.now(dt.timezone.utc)),
    }
    return report, entry


def _validated(con, reader, plan, dataset, seq, path):
    """(input rows, validated table) per batch read. (DuckDB could read Parquet itself, but its
    Arrow stream holds the whole result in memory: batches keep memory bounded.)"""
    sql = batch_sql(dataset, plan.sources, plan.from_sql, seq, plan.row_problem, plan.extra, plan.row_value)
    careful = plan.careful_from_sql and batch_sql(dataset, plan.sources, plan.careful_from_sql, seq,
                                                  plan.row_problem, plan.extra, plan.row_value)
    passthrough = {c.name: plan.sources[c.name].passthrough for c in contract.columns(dataset)
                   if c.name in plan.sources and passes_through(dataset, c, plan.sources[c.name])}
    cursors = [con.cursor() for _ in range(VALIDATORS)]  # one per slot: "batch" is registered per cursor

    def validate(slot: int, batch):
        return batch.num_rows, _attach(_run(cursors[slot], sql, batch, path, careful), batch, passthrough)

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
    times.append((_from_micros(int(micros.min())), _from_micros(int(micros.max()))))
    days = micros // _MICROS_PER_DAY  # the UTC day, as numbers: no date text per row
    if np.all(days[1:] >= days[:-1]):  # in time order (one day, or a log): day slices, no copy
        store.close_days_before(_day_name(int(days[0])))
        bounds = np.flatnonzero(days[1:] != days[:-1]) + 1
        store.write_days([(_day_name(int(days[start])), good.slice(start, end - start))
                          for start, end in zip([0, *bounds.tolist()], [*bounds.tolist(), len(days)])])
        return
    store.write_days([(_day_name(day), good.filter(bools(days == day))) for day in np.unique(days).tolist()])


_MICROS_PER_DAY = 86_400_000_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def _from_micros(us: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=us)


def _day_name(day: int) -> str:
    return (_EPOCH + dt.timedelta(days=day)).date().isoformat()


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


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
