"""Apache Spark (PySpark): for a deployment that outgrows one machine. Tests run it in local mode."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

from custodes.engine.base import Engine
from custodes.errors import CustodesError


def spark_session(master: str | None = None) -> Any:
    """A Spark session with UTC as its zone (so timestamps mean what they mean in DuckDB)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise CustodesError("the Spark engine needs pyspark: pip install 'custodes[spark]'") from None
    master = master or os.environ.get("CUSTODES_SPARK_MASTER", "local[2]")
    # Local mode talks to itself only; never bind to an outside interface.
    if master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = (
        SparkSession.builder.master(master)
        .appName("custodes")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", os.environ.get("CUSTODES_SPARK_PARTITIONS", "4"))
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", os.environ.get("CUSTODES_SPARK_DRIVER_MEMORY", "2g"))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.parquet.mergeSchema", "true")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


class SparkEngine(Engine):
    name = "spark"

    def _connect(self) -> Any:
        self.session = spark_session()
        return ibis.pyspark.connect(self.session)

    def _open_parquet(self, name: str, files: list[Path]) -> ibis.Table:
        df = self.session.read.option("mergeSchema", "true").parquet(*[str(f) for f in files])
        view = f"lake_{name}"
        df.createOrReplaceTempView(view)
        return self.con.table(view)

    def _register_arrow(self, name: str, table: pa.Table) -> ibis.Table:
        view = f"mem_{name}"
        df = self.session.createDataFrame(table)  # Spark 4 takes Arrow directly
        df.createOrReplaceTempView(view)
        return self.con.table(view)

    def to_arrow(self, expr: ibis.Expr) -> pa.Table:
        # Spark hands back zone-less timestamps in the session zone, which is UTC: say so.
        table = expr.to_pyarrow()
        fields = [
            pa.field(f.name, pa.timestamp("us", tz="UTC"))
            if pa.types.is_timestamp(f.type) and f.type.tz is None else f
            for f in table.schema
        ]
        return table.cast(pa.schema(fields))
