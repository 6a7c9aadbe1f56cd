"""The simulator's Parquet reads the same on both engines: DuckDB and Spark."""

from __future__ import annotations

import datetime as dt

import pytest

QUERY = ("SELECT count(*) AS n, count(DISTINCT credential_id) AS tokens, count(DISTINCT account_id) AS accounts, "
         "min(time) AS first, max(token_exp) AS last, sum(record_count) AS records FROM access")


def as_utc(value):
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


@pytest.mark.spark
def test_spark_reads_the_access_files_as_duckdb_does(world_dir, db, spark_engine):
    frame = spark_engine.session.read.parquet(str(world_dir / "access"))
    frame.createOrReplaceTempView("access")
    spark = spark_engine.session.sql(QUERY).collect()[0].asDict()
    duck = dict(zip(("n", "tokens", "accounts", "first", "last", "records"), db.execute(QUERY).fetchone()))
    for key in ("first", "last"):
        spark[key], duck[key] = as_utc(spark[key]), as_utc(duck[key])
    assert spark == duck
    kinds = {f.name: f.dataType.simpleString() for f in frame.schema.fields}
    assert kinds["time"] == "timestamp" and kinds["src_ip"] == "string" and kinds["asn"] == "bigint"
