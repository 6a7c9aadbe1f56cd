"""One query layer, two engines.

Queries are written once as Ibis expressions over :meth:`Engine.table` and run on DuckDB
(embedded default) or Apache Spark (``--engine spark`` or ``engine: spark`` in custodes.yaml)
with identical results. Backends are small classes; what differs between them is how a
table is opened and how a result comes back.
"""

from __future__ import annotations

from custodes.engine.base import Engine
from custodes.errors import UsageError
from custodes.workspace import Workspace

BACKENDS = ("duckdb", "spark")


def connect(workspace: Workspace | None = None, backend: str | None = None) -> Engine:
    """An engine over ``workspace``'s lake (or over no lake, for in-memory tables only)."""
    if backend is None and workspace is not None:
        backend = workspace.setting("engine", "duckdb")
    backend = backend or "duckdb"
    if backend == "duckdb":
        from custodes.engine.duckdb import DuckDBEngine

        return DuckDBEngine(workspace)
    if backend == "spark":
        from custodes.engine.spark import SparkEngine

        return SparkEngine(workspace)
    raise UsageError(f"unknown engine {backend!r}; expected one of {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Engine", "connect"]
