"""Shared by bench_detect.py and quality_detect.py: load a simulated world into a workspace.

Event files go through ``custodes.lake.ingest``. Reference CSVs too; if the lake refuses them
(it is being built concurrently), they are written in the lake layout directly (contract
types, ``_seq``), and a note says so on stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from custodes import contract

REFERENCE = ("workforce", "credentials", "keys", "key_custody", "catalog")
EVENTS = ("access", "issuance")


def _write_reference(workspace, dataset: str, path: Path, seq: int) -> None:
    schema = contract.schema(dataset)
    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        column_types={f.name: f.type for f in schema}))
    table = contract.conform(dataset, table)
    table = table.append_column("_seq", pa.array([seq] * table.num_rows, pa.int64()))
    table = table.append_column("_row", pa.array(range(1, table.num_rows + 1), pa.int64()))
    root = workspace.dataset_dir(dataset)
    root.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, root / f"part-ref-{seq:06d}.parquet")
    _seal(workspace, dataset, [root / f"part-ref-{seq:06d}.parquet"])


def _seal(workspace, dataset: str, paths) -> None:
    """Commit written files as a sealed ingest (queries read only what the manifest seals),
    where this checkout's lake has that."""
    from custodes.lake import manifest

    if hasattr(manifest, "commit_files"):
        manifest.commit_files(workspace, dataset, paths)


def load_reference(workspace, sim: Path, skip=()) -> None:
    from custodes.lake import ingest

    for i, dataset in enumerate(REFERENCE):
        if dataset in skip:
            continue
        try:
            ingest(workspace, dataset, [sim / f"{dataset}.csv"])
        except Exception as exc:  # noqa: BLE001 - the lake may be mid-edit; say so, carry on
            print(f"note: lake ingest of {dataset} failed ({type(exc).__name__}: {exc}); "
                  f"writing it in the lake layout directly", file=sys.stderr)
            _write_reference(workspace, dataset, sim / f"{dataset}.csv", 900_000 + i)


def day_files(sim: Path, dataset: str) -> list[Path]:
    return sorted((sim / dataset).glob("*.parquet"))


def load_events(workspace, sim: Path, skip=(), days: slice | None = None) -> None:
    from custodes.lake import ingest

    for dataset in EVENTS:
        if dataset in skip:
            continue
        files = day_files(sim, dataset)
        ingest(workspace, dataset, files[days] if days else files)


def load_world(workspace, sim: Path, skip=()) -> None:
    load_reference(workspace, sim, skip)
    load_events(workspace, sim, skip)


def fast_events(workspace, sim: Path, skip=(), first_seq: int = 1_000) -> int:
    """Write the event files straight into the lake layout with DuckDB (keys computed by
    custodes.ids.key_sql, one ``_seq`` per source file): for the speed benchmark at 100M
    events, where it measures detection, not ingestion. Returns the next free seq."""
    import duckdb

    from custodes.ids import KEYED_COLUMNS, key_sql

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    seq = first_seq
    for dataset in EVENTS:
        if dataset in skip:
            continue
        names = [c.name for c in contract.columns(dataset)]
        keys = ", ".join(f"{key_sql(c)} AS {c}_key" for c in KEYED_COLUMNS[dataset])
        for path in day_files(sim, dataset):
            seq += 1
            select = (f"SELECT {', '.join(names)}, {keys}, {seq}::BIGINT AS _seq, "
                      f"(row_number() OVER ())::BIGINT AS _row, strftime(time, '%Y-%m-%d') AS d "
                      f"FROM read_parquet('{path}')")
            written = []
            for (day,) in con.execute(f"SELECT DISTINCT strftime(time, '%Y-%m-%d') FROM read_parquet('{path}')").fetchall():
                out = workspace.dataset_dir(dataset) / f"date={day}"
                out.mkdir(parents=True, exist_ok=True)
                written.append(out / f"part-{seq:010d}.parquet")
                con.execute(f"COPY (SELECT * EXCLUDE (d) FROM ({select}) WHERE d = '{day}') TO "
                            f"'{written[-1]}' (FORMAT parquet, COMPRESSION zstd)")
            _seal(workspace, dataset, written)
    con.close()
    return seq
