"""Write tables into a workspace lake in the layout of docs/ARCHITECTURE.md, without the lake's
ingest (so detection tests do not depend on it): event datasets partitioned by UTC day, each
call sealed as one committed ingest (queries read only sealed files)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from custodes.contract import EVENT_TIME_COLUMN
from custodes.lake.manifest import commit_files


def store(workspace, dataset: str, table: pa.Table, seq: int) -> None:
    table = table.drop_columns([c for c in ("_seq", "_row") if c in table.column_names])
    table = table.append_column("_seq", pa.array([seq] * table.num_rows, pa.int64()))
    table = table.append_column("_row", pa.array(range(1, table.num_rows + 1), pa.int64()))
    root = workspace.dataset_dir(dataset)
    if dataset not in EVENT_TIME_COLUMN:
        root.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, root / f"part-{seq:06d}.parquet")
        commit_files(workspace, dataset, [root / f"part-{seq:06d}.parquet"])
        return
    days = pc.strftime(table[EVENT_TIME_COLUMN[dataset]], format="%Y-%m-%d")
    written = []
    for day in sorted(set(days.to_pylist())):
        part = root / f"date={day}"
        part.mkdir(parents=True, exist_ok=True)
        written.append(part / f"part-{seq:06d}.parquet")
        pq.write_table(table.filter(pc.equal(days, day)), written[-1])
    commit_files(workspace, dataset, written)
