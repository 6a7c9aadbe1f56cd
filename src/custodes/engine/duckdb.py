"""DuckDB: the embedded default. Reads the lake's Parquet in place, in parallel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

from custodes.engine.base import Engine


class DuckDBEngine(Engine):
    name = "duckdb"

    def _connect(self) -> Any:
        con = ibis.duckdb.connect()
        con.raw_sql("SET TimeZone = 'UTC'")
        return con

    def _open_parquet(self, name: str, files: list[Path]) -> ibis.Table:
        return self.con.read_parquet(
            [str(f) for f in files], table_name=f"lake_{name}", union_by_name=True,
            hive_partitioning=False,
        )

    def _register_arrow(self, name: str, table: pa.Table) -> ibis.Table:
        return self.con.create_table(f"mem_{name}", table, overwrite=True)

    def close(self) -> None:
        self.con.disconnect()
