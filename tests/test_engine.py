"""The engine layer: one Ibis expression, the same answer on DuckDB and Spark."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from custodes.contract import TIMESTAMP
from custodes.engine import connect
from custodes.lake.manifest import commit_files

UTC = dt.timezone.utc


def _workforce_snapshots(ws):
    d = ws.dataset_dir("workforce")
    d.mkdir(parents=True)
    first = pa.table({"employee_id": ["e1", "e2"], "hired_at": pa.array([dt.datetime(2020, 1, 1, tzinfo=UTC)] * 2, TIMESTAMP),
                      "terminated_at": pa.array([None, None], TIMESTAMP), "_seq": [1, 1]})
    second = pa.table({"employee_id": ["e1"], "hired_at": pa.array([dt.datetime(2020, 1, 1, tzinfo=UTC)], TIMESTAMP),
                       "terminated_at": pa.array([dt.datetime(2024, 12, 31, tzinfo=UTC)], TIMESTAMP), "_seq": [2]})
    pq.write_table(first, d / "part-1.parquet")
    pq.write_table(second, d / "part-2.parquet")
    commit_files(ws, "workforce", [d / "part-1.parquet"])  # queries read sealed files only
    commit_files(ws, "workforce", [d / "part-2.parquet"])


@pytest.mark.parametrize("backend", ["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def test_reference_dataset_reads_latest_version_of_each_row(workspace, backend):
    _workforce_snapshots(workspace)
    engine = connect(workspace, backend)
    t = engine.table("workforce")
    rows = sorted(engine.to_arrow(t.select("employee_id", "terminated_at")).to_pylist(), key=lambda r: r["employee_id"])
    assert rows == [
        {"employee_id": "e1", "terminated_at": dt.datetime(2024, 12, 31, tzinfo=UTC)},
        {"employee_id": "e2", "terminated_at": None},
    ]


def test_missing_dataset_is_reported(workspace):
    engine = connect(workspace, "duckdb")
    assert not engine.has("access")
    with pytest.raises(KeyError, match="access"):
        engine.table("access")


def test_unknown_engine_is_usage_error():
    from custodes.errors import UsageError

    with pytest.raises(UsageError):
        connect(None, "oracle")
