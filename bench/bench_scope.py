"""Indicator scope over a large access lake, beside the floor: a bare DuckDB count(*) with the
same filter over the same Parquet files, in the same run (ratios, since the machine is noisy).

    python bench/bench_scope.py --events 100000000 [--dir /tmp/custodes-bench-scope] [--repeat 3]

The lake is generated once by DuckDB itself (lake layout of docs/ARCHITECTURE.md: contract columns,
``<col>_key`` keys computed exactly as custodes.ids.key_of, ``_seq``/``_row``; one partition per
UTC day) and reused while its event count matches. 0.05% of events are forged-token reads (kid
k-2019 from 203.0.113.0/24) spread over the whole period, like the DESIGN.md case.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import sys
import time
from pathlib import Path

import duckdb

from custodes.engine import connect
from custodes.ids import key_of, key_sql
from custodes.respond import Selector, scope
from custodes.workspace import Workspace

DAYS = 100
CUSTOMERS = 2_000_000
IPS = 400_000
TOKENS = 8_000_000
ROUTES = [("/api/v1/me/profile", "name;email"), ("/api/v1/me/addresses", "name;phone;address"),
          ("/api/v1/me/addresses/{id}/edit", "address;entrance_code"), ("/api/v1/me/orders", "order_history"),
          ("/api/v1/products", ""), ("/api/v1/cart", ""), ("/api/v1/search", ""), ("/api/v1/me/payment", "payment")]


def generate(root: Path, events: int) -> None:
    """Write the lake with DuckDB (vectorised, both cores); minutes for 100M events."""
    lake = root / "lake" / "access"
    shutil.rmtree(root, ignore_errors=True)
    lake.mkdir(parents=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'; SET preserve_insertion_order = false")
    con.execute(f"""CREATE TABLE actors AS SELECT i, 'u' || (10000000 + i) AS s FROM range({CUSTOMERS}) t(i)""")
    con.execute(f"ALTER TABLE actors ADD COLUMN k BIGINT; UPDATE actors SET k = {key_sql('s')}")
    con.execute(f"""CREATE TABLE ips AS SELECT i, CASE WHEN i < 256 THEN '203.0.113.' || i
                    ELSE (1 + i % 200) || '.' || (i // 200 % 256) || '.' || (i // 51200 % 256) || '.' || (7 + i % 13)
                    END AS s FROM range({IPS}) t(i)""")
    con.execute(f"ALTER TABLE ips ADD COLUMN k BIGINT; UPDATE ips SET k = {key_sql('s')}")
    con.execute(f"""CREATE TABLE toks AS SELECT i, 'tok-' || md5(i::VARCHAR)[:20] AS s FROM range({TOKENS}) t(i)""")
    con.execute(f"ALTER TABLE toks ADD COLUMN k BIGINT; UPDATE toks SET k = {key_sql('s')}")
    routes = " ".join(f"WHEN {n} THEN '{r}'" for n, (r, _) in enumerate(ROUTES))
    per_day = events // DAYS
    for day in range(DAYS):  # one day per statement: memory stays bounded, files are per partition
        _write_day(con, lake, day, per_day, routes)
    catalog = root / "lake" / "catalog"
    catalog.mkdir(parents=True)
    values = ", ".join(f"('{r}', '{f}', false, 1::BIGINT, {n + 1}::BIGINT)" for n, (r, f) in enumerate(ROUTES))
    con.execute(f"COPY (SELECT * FROM (VALUES {values}) v(route, fields, bulk, _seq, _row)) "
                f"TO '{catalog}/part-000001.parquet' (FORMAT parquet)")
    (root / "EVENTS").write_text(str(per_day * DAYS))


def _write_day(con, lake: Path, day: int, per_day: int, routes: str) -> None:
    first = day * per_day
    date = (dt.date(2025, 1, 1) + dt.timedelta(days=day)).isoformat()
    part = lake / f"date={date}"
    part.mkdir()
    con.execute(f"""
        COPY (
          WITH ev AS (
            SELECT n, hash(n) AS h, (hash(n) % 10000) < 5 AS forged FROM range({first}, {first + per_day}) r(n)
          )
          SELECT TIMESTAMPTZ '{date} 00:00:00+00' + to_microseconds((h // 7 % 86400000000)::BIGINT) AS time,
                 ip.s AS src_ip, 'GET' AS method,
                 CASE (h // 11 % {len(ROUTES)}) {routes} END AS route, 200 AS status,
                 'customer' AS actor_type, a.s AS actor_id, NULL::VARCHAR AS account_id, NULL::BIGINT AS record_count,
                 'access_token' AS credential_type, t.s AS credential_id,
                 CASE WHEN forged THEN 'k-2019' WHEN h // 13 % 10 < 6 THEN 'k-2024' ELSE 'k-2025' END AS token_kid,
                 NULL::VARCHAR AS session_id,
                 ip.k AS src_ip_key, a.k AS actor_id_key, NULL::BIGINT AS account_id_key, t.k AS credential_id_key,
                 1::BIGINT AS _seq, n - {first} + 1 AS _row
          FROM ev
          JOIN actors a ON a.i = ev.h // 17 % {CUSTOMERS}
          JOIN ips ip ON ip.i = CASE WHEN forged THEN ev.h // 19 % 256 ELSE 256 + ev.h // 19 % {IPS - 256} END
          JOIN toks t ON t.i = ev.h // 23 % {TOKENS}
          ORDER BY time
        ) TO '{part}/part-000001.parquet' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)
    """)


def floor_sql(root: Path, where: str) -> str:
    return f"SELECT count(*) FROM read_parquet('{root}/lake/access/*/*.parquet') WHERE {where}"


def timed(fn, repeat: int) -> tuple[float, object]:
    times, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=100_000_000)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/custodes-bench-scope"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    marker = args.dir / "EVENTS"
    if not marker.exists() or int(marker.read_text()) != args.events // DAYS * DAYS:
        start = time.perf_counter()
        generate(args.dir, args.events)
        print(f"generated {args.events:,} events in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    events = int(marker.read_text())
    size = sum(p.stat().st_size for p in (args.dir / "lake").rglob("*.parquet"))
    workspace = Workspace(args.dir)
    bare = duckdb.connect()
    bare.execute("SET TimeZone = 'UTC'")
    cases = [
        (Selector("kid", "k-2019"), "token_kid = 'k-2019'"),
        (Selector("src_ip", "203.0.113.0/24"), "starts_with(src_ip, '203.0.113.')"),
        (Selector("src_ip", "203.0.113.7"), f"src_ip_key = {key_of('203.0.113.7')}"),
        (Selector("actor", "u10000042"), f"actor_id_key = {key_of('u10000042')}"),
    ]
    # a token and an actor that the data really holds (the generator draws them at random)
    token = bare.execute(f"SELECT credential_id FROM read_parquet('{args.dir}/lake/access/*/*.parquet') "
                         "WHERE token_kid = 'k-2024' LIMIT 1").fetchone()[0]
    cases.append((Selector("credential", token), f"credential_id_key = {key_of(token)}"))
    print(f"\n{events:,} access events, {size / 2**30:.2f} GiB Parquet, {len(list((args.dir / 'lake' / 'access').iterdir()))} day partitions")
    print(f"{'selector':<34} {'floor count(*)':>15} {'scope':>8} {'ratio':>6}  accounts  requests")
    for selector, where in cases:
        # both sides start from a fresh connection each time, as a CLI invocation does
        floor_s, floor_n = timed(lambda: duckdb.connect().execute(floor_sql(args.dir, where)).fetchone()[0],
                                 args.repeat)

        def run_scope():
            with connect(workspace, "duckdb") as engine:
                return scope(engine, workspace, selector)

        scope_s, result = timed(run_scope, args.repeat)
        assert result.requests == floor_n, (selector, result.requests, floor_n)
        print(f"{selector.describe():<34} {floor_s:>13.2f} s {scope_s:>6.2f} s {scope_s / floor_s:>5.1f}x"
              f"  {result.accounts:>8,}  {result.requests:>8,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
