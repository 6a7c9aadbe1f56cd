"""Indicator scope over a large access lake, beside the floor: a bare DuckDB count(*) with the
same filter over the same Parquet files, in the same run (ratios, since the machine is noisy).

    PYTHONPATH=src python bench/bench_scope.py --events 100000000 [--dir /tmp/custodes-bench-scope]
        [--repeat 3] [--old /tmp/custodes-base] [--legacy-days 0]

The lake is generated once by DuckDB and written with the lake's own Parquet settings (stored
schema of custodes.lake.store, zstd level 1, 2**20-row row groups; ``<col>_key`` keys computed
exactly as custodes.ids.key_of; ``src_ip_v4``; one partition per UTC day; the first
``--legacy-days`` partitions without ``src_ip_v4``, as files stored before the lake kept it) and
reused while its shape matches. 0.05% of events are forged-token reads (kid k-2019 from
203.0.113.0/24) spread over the whole period, like the DESIGN.md case.

Each selector is timed three ways, interleaved round by round: the floor (a bare DuckDB
``count(*)`` with the same filter, fresh connection), this checkout's ``scope()``, and the ``--old``
checkout's ``scope()`` (each call in a fresh process and connection, as a CLI invocation; the
engine's module imports, about 0.5 s, are done before the timed call). The two scopes must agree exactly and their request count must equal the floor's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import ibis
import pyarrow as pa
import pyarrow.parquet as pq

from custodes.engine import connect
from custodes.ids import key_of, key_sql
from custodes.lake import store
from custodes.lake.store import stored_schema
from custodes.respond import Selector, scope
from custodes.workspace import Workspace

DAYS = 100
CUSTOMERS = 2_000_000
IPS = 400_000
TOKENS = 8_000_000
ROUTES = [("/api/v1/me/profile", "name;email"), ("/api/v1/me/addresses", "name;phone;address"),
          ("/api/v1/me/addresses/{id}/edit", "address;entrance_code"), ("/api/v1/me/orders", "order_history"),
          ("/api/v1/products", ""), ("/api/v1/cart", ""), ("/api/v1/search", ""), ("/api/v1/me/payment", "payment")]


def generate(root: Path, events: int, legacy_days: int = 0) -> None:
    """Write the lake with DuckDB (vectorised, both cores) and pyarrow with the lake's own writer
    settings (stored schema, zstd level 1, 1Mi-row row groups); minutes for 100M events. The
    first ``legacy_days`` partitions lack ``src_ip_v4``, as files stored before the lake kept it."""
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
    octets = [f"CAST(split_part(s, '.', {n}) AS BIGINT)" for n in (1, 2, 3, 4)]
    con.execute(f"ALTER TABLE ips ADD COLUMN v4 BIGINT; UPDATE ips SET v4 = "
                f"{octets[0]} * 16777216 + {octets[1]} * 65536 + {octets[2]} * 256 + {octets[3]}")
    con.execute(f"""CREATE TABLE toks AS SELECT i, 'tok-' || md5(i::VARCHAR)[:20] AS s FROM range({TOKENS}) t(i)""")
    con.execute(f"ALTER TABLE toks ADD COLUMN k BIGINT; UPDATE toks SET k = {key_sql('s')}")
    routes = " ".join(f"WHEN {n} THEN '{r}'" for n, (r, _) in enumerate(ROUTES))
    per_day = events // DAYS
    for day in range(DAYS):  # one day per statement: memory stays bounded, files are per partition
        _write_day(con, lake, day, per_day, routes, with_v4=day >= legacy_days)
    catalog = root / "lake" / "catalog"
    catalog.mkdir(parents=True)
    values = ", ".join(f"('{r}', '{f}', false, 1::BIGINT, {n + 1}::BIGINT)" for n, (r, f) in enumerate(ROUTES))
    con.execute(f"COPY (SELECT * FROM (VALUES {values}) v(route, fields, bulk, _seq, _row)) "
                f"TO '{catalog}/part-000001.parquet' (FORMAT parquet)")
    _seal(root, lake, catalog)
    (root / "EVENTS").write_text(f"{per_day * DAYS} {legacy_days}")


def _seal(root: Path, lake: Path, catalog: Path) -> None:
    """Commit the files as sealed ingests: queries read only what the manifest seals."""
    from custodes.lake import manifest

    if hasattr(manifest, "commit_files"):
        manifest.commit_files(Workspace(root), "access", sorted(lake.rglob("part-*.parquet")))
        manifest.commit_files(Workspace(root), "catalog", [catalog / "part-000001.parquet"])


def _write_day(con, lake: Path, day: int, per_day: int, routes: str, with_v4: bool) -> None:
    first = day * per_day
    date = (dt.date(2025, 1, 1) + dt.timedelta(days=day)).isoformat()
    part = lake / f"date={date}"
    part.mkdir()
    table = con.sql(f"""
          WITH ev AS (
            SELECT n, hash(n) AS h, (hash(n) % 10000) < 5 AS forged FROM range({first}, {first + per_day}) r(n)
          )
          SELECT TIMESTAMPTZ '{date} 00:00:00+00' + to_microseconds((h // 7 % 86400000000)::BIGINT) AS time,
                 ip.s AS src_ip, 'GET' AS method,
                 CASE (h // 11 % {len(ROUTES)}) {routes} END AS route, 200 AS status,
                 'customer' AS actor_type, a.s AS actor_id, a.s AS account_id, 1::BIGINT AS record_count,
                 'access_token' AS credential_type, t.s AS credential_id,
                 CASE WHEN forged THEN 'k-2019' WHEN h // 13 % 10 < 6 THEN 'k-2024' ELSE 'k-2025' END AS token_kid,
                 ip.k AS src_ip_key, a.k AS actor_id_key, a.k AS account_id_key, t.k AS credential_id_key,
                 2::BIGINT AS _seq, n - {first} + 1 AS _row, ip.v4 AS src_ip_v4
          FROM ev
          JOIN actors a ON a.i = ev.h // 17 % {CUSTOMERS}
          JOIN ips ip ON ip.i = CASE WHEN forged THEN ev.h // 19 % 256 ELSE 256 + ev.h // 19 % {IPS - 256} END
          JOIN toks t ON t.i = ev.h // 23 % {TOKENS}
          ORDER BY time
    """).to_arrow_table()
    # the stored schema, with src_ip_v4 as the lake writes it now, or without it as it did before
    schema = stored_schema("access")
    if "src_ip_v4" not in schema.names:
        schema = schema.append(pa.field("src_ip_v4", pa.int64()))
    if not with_v4:
        schema = schema.remove(schema.get_field_index("src_ip_v4"))
    seq = 2 if with_v4 else 1  # one ingest per lake version, as in a lake that was upgraded
    table = table.set_column(table.column_names.index("_seq"), "_seq", pa.repeat(pa.scalar(seq), len(table)))
    columns = [table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(len(table), f.type)
               for f in schema]
    # the lake's writer settings (custodes.lake.store): zstd level 1, row groups of 2**20 rows
    stored = pa.Table.from_arrays(columns, schema=schema)
    # the lake's writer choices where this checkout's lake has them (dictionary only for columns
    # that repeat), else pyarrow's default (dictionary everywhere)
    dictionary = store.dictionary_columns(stored) if hasattr(store, "dictionary_columns") else True
    encodings = {}
    if hasattr(store, "column_encodings"):  # time and _row delta-encoded, as the lake writes them
        dictionary, encodings = store.column_encodings(schema, dictionary)
    pq.write_table(stored, part / f"part-{seq:010d}-0000.parquet", compression="zstd", compression_level=1,
                   row_group_size=1 << 20, use_dictionary=dictionary, column_encoding=encodings or None)


def floor_sql(root: Path, where: str) -> str:
    return (f"SELECT count(*) FROM read_parquet('{root}/lake/access/*/*.parquet', union_by_name = true) "
            f"WHERE {where}")


def worker(root: Path, kind: str, value: str) -> None:
    """One scope() call, as one CLI invocation makes it (a fresh process, a fresh connection), by
    whichever custodes is on PYTHONPATH; JSON on stdout. Imports are not timed."""
    workspace = Workspace(root)
    with connect(None, "duckdb") as engine:  # load the engine's modules (pandas...): fixed, not scope's
        engine.to_arrow(ibis.memtable({"n": [1]}).aggregate(n=ibis._.n.sum()))
    start = time.perf_counter()
    with connect(workspace, "duckdb") as engine:
        result = scope(engine, workspace, Selector(kind, value))
    print(json.dumps({"seconds": time.perf_counter() - start, "scope": result.to_json()}))


def run_worker(code: Path, root: Path, selector: Selector) -> dict:
    env = dict(os.environ, PYTHONPATH=str(code / "src"))
    out = subprocess.run([sys.executable, __file__, "--worker", selector.kind, selector.value, "--dir", str(root)],
                         env=env, capture_output=True, text=True)
    if out.returncode:  # e.g. a lake too small to hold the actor: say what the worker said
        raise SystemExit(f"{code}: scope {selector.describe()} failed:\n{out.stderr.strip().splitlines()[-1]}")
    return json.loads(out.stdout)


def cases(root: Path, legacy_days: int) -> list[tuple[Selector, str]]:
    bare = duckdb.connect()
    # a token that the data really holds (the generator draws them at random)
    token = bare.execute(f"SELECT credential_id FROM read_parquet('{root}/lake/access/*/*.parquet', union_by_name = true) "
                         "WHERE token_kid = 'k-2024' LIMIT 1").fetchone()[0]
    net = ipaddress.ip_network("203.0.113.0/24")
    in_range = f"src_ip_v4 BETWEEN {int(net.network_address)} AND {int(net.broadcast_address)}"
    if legacy_days:  # older files have no number: the floor must read their text too
        in_range = f"({in_range} OR (src_ip_v4 IS NULL AND starts_with(src_ip, '203.0.113.')))"
    return [
        (Selector("kid", "k-2019"), "token_kid = 'k-2019'"),
        (Selector("src_ip", str(net)), in_range),
        (Selector("src_ip", "203.0.113.7"), f"src_ip_key = {key_of('203.0.113.7')}"),
        (Selector("actor", "u10000042"), f"actor_id_key = {key_of('u10000042')}"),
        (Selector("credential", token), f"credential_id_key = {key_of(token)}"),
    ]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=100_000_000)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/custodes-bench-scope"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--legacy-days", type=int, default=0,
                    help="the first N day partitions lack src_ip_v4 (files stored before the lake kept it)")
    ap.add_argument("--old", type=Path, default=Path("/tmp/custodes-base"),
                    help="a checkout of the code to compare with (its src/ goes on PYTHONPATH); '' to skip")
    ap.add_argument("--busy-key", action="store_true",
                    help="also scope --kid k-2025, a key that signs 40% of all requests (2M accounts)")
    ap.add_argument("--incident", nargs=2, metavar=("WORKSPACE", "ID"),
                    help="also time scope --incident ID on that workspace (one detect has run on)")
    ap.add_argument("--generate-only", action="store_true")
    ap.add_argument("--worker", nargs=2, metavar=("KIND", "VALUE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.dir, *args.worker)
        return 0
    marker = args.dir / "EVENTS"
    wanted = f"{args.events // DAYS * DAYS} {args.legacy_days}"
    if not marker.exists() or marker.read_text() != wanted:
        start = time.perf_counter()
        generate(args.dir, args.events, args.legacy_days)
        print(f"generated {args.events:,} events in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    events = args.events // DAYS * DAYS
    if args.generate_only:
        return 0
    new = Path(__file__).resolve().parent.parent
    old = args.old if str(args.old) not in ("", ".") and (args.old / "src").is_dir() else None
    size = sum(p.stat().st_size for p in (args.dir / "lake").rglob("*.parquet"))
    print(f"\n{events:,} access events, {size / 2**30:.2f} GiB Parquet, {DAYS} day partitions "
          f"({args.legacy_days} without src_ip_v4); median of {args.repeat}; load average {os.getloadavg()[0]:.1f}")
    print(f"{'selector':<34} {'floor':>7} {'new':>7} {'new/floor':>9} {'old':>7} {'old/new':>8}  accounts  requests")
    todo = cases(args.dir, args.legacy_days)
    if args.busy_key:
        todo.append((Selector("kid", "k-2025"), "token_kid = 'k-2025'"))
    for selector, where in todo:
        floor_t, new_t, old_t, answers = [], [], [], []
        for _ in range(args.repeat):  # interleaved round by round: the load shifts while we measure
            start = time.perf_counter()
            floor_n = duckdb.connect().execute(floor_sql(args.dir, where)).fetchone()[0]
            floor_t.append(time.perf_counter() - start)
            now = run_worker(new, args.dir, selector)
            assert now["scope"]["requests"] == floor_n, (selector, now["scope"]["requests"], floor_n)
            new_t.append(now["seconds"])
            if old:
                before = run_worker(old, args.dir, selector)
                assert before["scope"] == now["scope"], (selector, before["scope"], now["scope"])
                old_t.append(before["seconds"])
        floor_s, new_s = statistics.median(floor_t), statistics.median(new_t)
        old_s = f"{statistics.median(old_t):>5.2f} s {statistics.median(old_t) / new_s:>7.1f}x" if old else f"{'-':>7} {'-':>8}"
        print(f"{selector.describe():<34} {floor_s:>5.2f} s {new_s:>5.2f} s {new_s / floor_s:>8.1f}x {old_s}"
              f"  {now['scope']['accounts']:>8,}  {now['scope']['requests']:>8,}", flush=True)
    if args.incident:
        incident_side_by_side(Path(args.incident[0]), args.incident[1], new, old, args.repeat)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0


def incident_side_by_side(root: Path, incident: str, new: Path, old: Path | None, repeat: int) -> None:
    """scope --incident: the incident's malicious requests (detect's evidence query) scoped."""
    events = duckdb.connect().execute(
        f"SELECT count(*) FROM read_parquet('{root}/lake/access/*/*.parquet', union_by_name = true)").fetchone()[0]
    selector = Selector("incident", incident)
    new_t, old_t = [], []
    for _ in range(repeat):
        now = run_worker(new, root, selector)
        new_t.append(now["seconds"])
        if old:
            before = run_worker(old, root, selector)
            assert before["scope"] == now["scope"], (before["scope"], now["scope"])
            old_t.append(before["seconds"])
    new_s = statistics.median(new_t)
    old_s = f"{statistics.median(old_t):.2f} s ({statistics.median(old_t) / new_s:.1f}x)" if old else "-"
    print(f"\nscope --incident {incident} over {events:,} access events ({root}): new {new_s:.2f} s, old {old_s}; "
          f"{now['scope']['accounts']:,} accounts, {now['scope']['requests']:,} requests", flush=True)


if __name__ == "__main__":
    sys.exit(main())
