"""One small simulated world per test session; the tests read it, never write into it."""

from __future__ import annotations

import pytest

from custodes.simulate import simulate

SMALL = dict(customers=1_500, days=12, seed=11)


@pytest.fixture(scope="session")
def world_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim") / "world"
    simulate(out, **SMALL)
    return out


@pytest.fixture(scope="session")
def db(world_dir):
    """DuckDB views over the world's files: access, issuance and the reference CSVs."""
    import duckdb

    con = duckdb.connect()
    for name in ("access", "issuance"):
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{world_dir}/{name}/*.parquet', filename=true)")
    for name in ("workforce", "credentials", "keys", "key_custody", "catalog"):
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_csv('{world_dir}/{name}.csv', header=true)")
    con.execute(f"CREATE VIEW customers AS SELECT * FROM read_parquet('{world_dir}/customers.parquet')")
    return con
