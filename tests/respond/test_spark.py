"""Write once, run on both: scope and offboarding give identical results on Spark and DuckDB."""

from __future__ import annotations

import pytest

from custodes.engine import connect
from custodes.respond import Selector, offboard, scope
from custodes.respond.scope import accounts_table

from .conftest import register_world

SELECTORS = [Selector("kid", "k-old"), Selector("src_ip", "203.0.113.8/30"), Selector("src_ip", "2001:db8::/32"),
             Selector("credential", "ak-1"), Selector("actor", "e-cs"), Selector("employee", "e-ex")]


@pytest.mark.spark
def test_spark_agrees_with_duckdb(spark_engine, workspace, monkeypatch):
    from custodes.respond import selector

    spark = register_world(spark_engine)
    with connect(workspace, "duckdb") as duck:
        register_world(duck)
        for sel in SELECTORS:
            on_duck, on_spark = scope(duck, workspace, sel), scope(spark, workspace, sel)
            assert on_spark.to_json() == on_duck.to_json(), sel
            assert accounts_table(spark, on_spark).to_pylist() == accounts_table(duck, on_duck).to_pylist(), sel
        monkeypatch.setattr(selector, "MAX_KEYED_ADDRESSES", 0)  # the one-pass text filter for CIDRs
        crowded = Selector("src_ip", "203.0.113.8/30")
        assert scope(spark, workspace, crowded).to_json() == scope(duck, workspace, crowded).to_json()
        monkeypatch.undo()
        from custodes.respond.notify import notification_rows

        sel = Selector("actor", "e-cs")
        assert notification_rows(spark, scope(spark, workspace, sel)).to_pylist() == \
            notification_rows(duck, scope(duck, workspace, sel)).to_pylist()
        for employee in ("e-ex", "e-dev", "e-cs"):
            assert offboard.plan(spark, workspace, employee).to_json() == offboard.plan(duck, workspace, employee).to_json()
