"""One query layer, two engines: a small world ingested through the lake, the same Ibis
queries on DuckDB and Spark, the same answers."""

from __future__ import annotations

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from custodes import ids
from custodes.engine import connect
from custodes.lake import ingest, manifest, seq_high_water
from custodes.lake.seal import file_sha256

from .conftest import access_row, write_csv


@pytest.fixture
def world(workspace, files):
    rows = [access_row(i, time=f"2025-04-{14 + i % 3}T0{i % 10}:00:00Z") for i in range(60)]
    rows += [access_row(100, src_ip="2001:db8::5", actor_type="employee", actor_id="e-1", account_id="c-3")]
    ingest(workspace, "access", [write_csv(files / "access.csv", rows)])
    write_csv(files / "keys1.csv", [{"kid": "k-2019", "alg": "ES256", "storage": "file", "created_at": "2019-01-01T00:00:00Z",
                                     "retired_at": ""}])
    write_csv(files / "keys2.csv", [{"kid": "k-2019", "alg": "ES256", "storage": "file", "created_at": "2019-01-01T00:00:00Z",
                                     "retired_at": "2025-04-15T00:00:00Z"},
                                    {"kid": "k-2024", "alg": "ES256", "storage": "hsm", "created_at": "2024-01-01T00:00:00Z",
                                     "retired_at": ""}])
    ingest(workspace, "keys", [files / "keys1.csv"])
    ingest(workspace, "keys", [files / "keys2.csv"])
    return workspace


def queries(engine):
    a = engine.table("access")
    k = engine.table("keys")
    hw = 3
    return {
        "per_day": a.group_by(day=a.time.date()).aggregate(requests=a.count(), accounts=a.account_id_key.nunique())
                    .order_by("day"),
        "by_ip_key": a.filter(a.src_ip_key == ids.key_of("2001:db8::5")).select("actor_id", "account_id", "time"),
        "top_accounts": a.group_by("account_id").aggregate(n=a.count(), last=a.time.max())
                         .order_by([ibis.desc("n"), "account_id"]).limit(3),
        "keys_now": k.select("kid", "storage", "retired_at").order_by("kid"),
        "incremental": a.filter((a._seq > 0) & (a._seq <= hw)).count().name("n").as_table(),
        # scope's CIDR filter: 203.0.113.0/28
        "cidr": a.filter(a.src_ip_v4.between(3405803776, 3405803791)).select("_row", "src_ip").order_by("_row"),
        "not_v4": a.filter(a.src_ip_v4.isnull()).select("src_ip", "_extra"),
    }


def _run_all(engine):
    return {name: engine.to_arrow(expr).to_pylist() for name, expr in queries(engine).items()}


def test_duckdb_answers(world):
    with connect(world, "duckdb") as engine:
        got = _run_all(engine)
    assert sum(r["requests"] for r in got["per_day"]) == 61
    assert got["by_ip_key"][0]["actor_id"] == "e-1"
    assert [r["kid"] for r in got["keys_now"]] == ["k-2019", "k-2024"]
    assert got["keys_now"][0]["retired_at"] is not None  # the later snapshot wins
    assert seq_high_water(world) == 3 and got["incremental"][0]["n"] == 61
    assert [r["src_ip"] for r in got["cidr"]] == [f"203.0.113.{i % 250}" for i in range(60) if i % 250 < 16]
    assert got["not_v4"] == [{"src_ip": "2001:db8::5", "_extra": None}]


@pytest.fixture
def old_and_new(world):
    """A lake holding a file written before src_ip_v4 and _extra existed, beside new ones."""
    new = next(world.dataset_dir("access").rglob("part-*.parquet"))
    old = pq.read_table(new).drop_columns(["src_ip_v4", "_extra"]).slice(0, 3)
    folder = world.dataset_dir("access") / "date=2025-04-01"
    folder.mkdir()
    stored = folder / "part-0000000004-0000.parquet"
    pq.write_table(old.set_column(old.column_names.index("_seq"), "_seq", pa.array([0] * 3, pa.int64())), stored)
    # sealed as an ingest of its own, as an older version of custodes would have done
    sha, size = file_sha256(stored)
    last = manifest.commit(world, {
        "seq": 4, "dataset": "access", "rows": 3, "quarantined": 0, "reasons": {}, "first_time": None,
        "last_time": None, "quarantine_file": None, "committed_at": "2025-04-01T00:00:00.000000Z",
        "files": [{"path": str(stored.relative_to(world.root)), "sha256": sha, "bytes": size, "rows": 3}],
        "source": {"path": "/old.csv", "sha256": "0" * 64, "bytes": 0, "format": "csv"}}, manifest.entries(world)[-1])
    manifest.write_head(world, last)
    return world


def _old_rows(engine):
    a = engine.table("access")
    return engine.to_arrow(a.filter(a._seq == 0).select("src_ip", "src_ip_v4", "_extra").order_by("src_ip")).to_pylist()


def test_older_files_read_null_for_the_new_columns(old_and_new):
    with connect(old_and_new, "duckdb") as engine:
        got = _old_rows(engine)
    assert len(got) == 3 and all(r["src_ip_v4"] is None and r["_extra"] is None for r in got)


@pytest.mark.spark
def test_spark_reads_older_files_the_same(old_and_new, spark_engine):
    with connect(old_and_new, "duckdb") as duck:
        expected = _old_rows(duck)
    assert _old_rows(connect(old_and_new, "spark")) == expected


@pytest.mark.spark
def test_spark_gives_the_same_answers(world, spark_engine):
    with connect(world, "duckdb") as duck:
        expected = _run_all(duck)
    spark = connect(world, "spark")
    assert _run_all(spark) == expected
