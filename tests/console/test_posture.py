"""Credential posture in data time, on the hand-made world, on DuckDB and on Spark alike."""

from __future__ import annotations


import pyarrow as pa
import pytest

from custodes import contract
from custodes.console.posture import posture
from custodes.engine import connect
from custodes.ids import key_of

from . import world


def _register(engine):
    for dataset in ("keys", "key_custody", "workforce", "credentials"):  # what posture reads
        rows = world.REFERENCE[dataset]
        engine.register(dataset, contract.conform(dataset, pa.Table.from_pylist(rows, schema=contract.schema(dataset))))
    rows = [r for day in world.access_rows().values() for r in day]
    access = contract.conform("access", pa.Table.from_pylist(rows, schema=contract.schema("access")))
    access = access.append_column("credential_id_key", pa.array([key_of(v) for v in access.column("credential_id").to_pylist()], pa.int64()))
    engine.register("access", access)
    return engine


def _simple(result):
    return {
        "now": result["now"],
        "custodians": [(r["kid"], r["employee_id"]) for r in result["departed_custodians"]],
        "credentials": [(r["credential_id"], r["uses_after_leaving"], r["last_used"]) for r in result["departed_credentials"]],
        "stale": [r["kid"] for r in result["stale_keys"]],
    }


EXPECTED = {
    "now": world.t("2025-04-16T12:49:00"),
    # k-2019: e-101 left 2024-12-20, key never rotated. k-old is retired. e-102 has not left.
    "custodians": [("k-2019", "e-101")],
    # ak-1 still works and was used after e-103 left; ak-3 was revoked, ak-4 expired;
    # ak-2's owner leaves on 2025-12-31, after the data's "now": not departed yet.
    "credentials": [("ak-1", 1, world.t("2025-04-15T22:10:00"))],
    # k-2019 is over 365 days old and kept in a file; k-2025 is young and in KMS.
    "stale": ["k-2019"],
}


def test_posture_on_the_lake_duckdb(ws):
    with connect(ws) as engine:
        assert _simple(posture(engine)) == EXPECTED


def test_rotation_age_is_configurable():
    engine = _register(connect(None, "duckdb"))
    result = posture(engine, max_age_days=30)
    assert [r["kid"] for r in result["stale_keys"]] == ["k-2019", "k-2025"]


def test_missing_datasets_are_named_not_fatal():
    engine = connect(None, "duckdb")
    rows = [r for day in world.access_rows().values() for r in day]
    engine.register("access", contract.conform("access", pa.Table.from_pylist(rows, schema=contract.schema("access"))))
    engine.register("keys", contract.conform("keys", pa.Table.from_pylist(world.REFERENCE["keys"], schema=contract.schema("keys"))))
    result = posture(engine)
    assert result["departed_custodians"] is None and result["departed_credentials"] is None
    assert [r["kid"] for r in result["stale_keys"]] == ["k-2019"]
    assert any("key_custody" in n for n in result["notes"])


def test_no_events_means_no_data_time():
    result = posture(connect(None, "duckdb"))
    assert result["now"] is None and "no access or issuance events" in result["notes"][0]


@pytest.mark.spark
def test_spark_gives_the_same_posture(spark_engine):
    spark = _simple(posture(_register(spark_engine)))
    duck = _simple(posture(_register(connect(None, "duckdb"))))
    assert spark == duck == EXPECTED
