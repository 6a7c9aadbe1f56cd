"""Ingest throughput and peak memory, per input format.

    python bench/bench_ingest.py [--rows 2000000] [--formats parquet,csv,jsonl] [--batch-rows N]
                                 [--baseline] [--compare OLD_SRC] [--repeat N] [--addresses unique|customers]

``--compare /tmp/custodes-base/src`` also runs another checkout's code (its ``src`` folder) on
the same files, alternating old and new ``--repeat`` times, and prints the new/old ratios of the
best runs: on a shared, noisy machine the ratio measured in one run is what can be trusted.

Generates a synthetic access log (unique request ids, ~50k customers/devices, 200 user agents,
tokens reused by 20 requests, and source IPs nearly unique per row: the hard case for the
per-batch distinct-value work of lake.ips and lake.keys; ``--addresses customers`` gives each
customer one address at a time, as real logs repeat them) with DuckDB, then
runs ``custodes.lake.ingest`` on each format in a fresh workspace, each in its own process so
that its peak RSS is its own. Prints rows/s and peak RSS; side by side in one run, because the
machine is shared and noisy. CPU seconds (all threads) are printed too: under other people's
load, rows per CPU-second is the figure that does not depend on how much of the machine we got.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ACCESS_SQL = """
SELECT
  TIMESTAMPTZ '2025-04-01 00:00:00+00' + to_microseconds(CAST(i AS BIGINT) * {span_us} // {n}) AS time,
  'req-' || i AS request_id,
  {src_ip} AS src_ip,
  'Mozilla/5.0 (Linux; Android 14; SM-S918N Build/UP1A) AppleWebKit/537.36 Chrome/' || (h % 200) || '.0 Mobile' AS user_agent,
  'dev-' || (acct % 60000) AS device_id,
  'KR' AS geo_country,
  CAST(4766 + (h % 5) AS BIGINT) AS asn,
  CASE WHEN h % 10 = 0 THEN 'POST' ELSE 'GET' END AS method,
  '/api/v1/me/' || ['addresses', 'orders', 'profile', 'payments', 'edit'][1 + (h % 5)] AS route,
  CAST(CASE WHEN h % 50 = 0 THEN 404 ELSE 200 END AS BIGINT) AS status,
  CAST(200 + h % 4000 AS BIGINT) AS bytes_out,
  'customer' AS actor_type,
  'c-' || acct AS actor_id,
  'c-' || acct AS account_id,
  CAST(1 AS BIGINT) AS record_count,
  'access_token' AS credential_type,
  'jti-' || (i // 20) AS credential_id,
  'k-2024' AS token_kid,
  TIMESTAMPTZ '2025-03-31 00:00:00+00' AS token_iat,
  TIMESTAMPTZ '2025-05-01 00:00:00+00' AS token_exp,
  's-' || (acct % 70000) AS session_id
FROM (SELECT i, CAST(hash(i) % 1000000007 AS BIGINT) AS h, CAST(hash(i // 7) % 50000 AS BIGINT) AS acct FROM range({n}) t(i))
"""


#: Where requests come from. "unique": a new address almost every row, the worst case for the
#: per-distinct-value work of lake.ips and lake.keys. "customers": each customer keeps one
#: address for a few hours (a phone on a carrier, a home router), as gateway logs show it.
ADDRESSES = {
    "unique": "'10.' || (h % 200) || '.' || ((h >> 8) % 250) || '.' || ((h >> 16) % 250)",
    "customers": "'10.' || (acct % 200) || '.' || ((acct // 200) % 250) || '.' || ((i * 8 // {n}) % 250)",
}


def generate(out: Path, n: int, formats: list[str], days: int = 7, addresses: str = "unique") -> dict[str, Path]:
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    src_ip = ADDRESSES[addresses].format(n=n)
    con.execute(f"CREATE TABLE access AS {ACCESS_SQL.format(n=n, span_us=days * 86_400_000_000, src_ip=src_ip)}")
    paths = {}
    for fmt in formats:
        p = out / f"access.{fmt}"
        if fmt == "parquet":
            con.execute(f"COPY access TO '{p}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)")
        elif fmt == "csv":
            con.execute(f"COPY (SELECT * REPLACE (strftime(time, '%Y-%m-%dT%H:%M:%S.%fZ') AS time, "
                        f"strftime(token_iat, '%Y-%m-%dT%H:%M:%SZ') AS token_iat, "
                        f"strftime(token_exp, '%Y-%m-%dT%H:%M:%SZ') AS token_exp) FROM access) "
                        f"TO '{p}' (FORMAT csv, HEADER)")
        elif fmt == "jsonl":
            con.execute(f"COPY (SELECT * REPLACE (strftime(time, '%Y-%m-%dT%H:%M:%S.%fZ') AS time, "
                        f"epoch(token_iat)::BIGINT AS token_iat, epoch(token_exp)::BIGINT AS token_exp) FROM access) "
                        f"TO '{p}' (FORMAT json)")
        paths[fmt] = p
    con.close()
    return paths


CHILD = """
import json, sys, time
from custodes.workspace import Workspace
from custodes.lake import ingest
def peak_mb():  # VmHWM: this process's own peak (ru_maxrss would include the parent's before exec)
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            return int(line.split()[1]) / 1024
ws = Workspace.open(sys.argv[1])
t0 = time.perf_counter()
c0 = time.process_time()
r = ingest(ws, 'access', [sys.argv[2]], batch_rows=int(sys.argv[3]) if sys.argv[3] != '0' else None)
dt = time.perf_counter() - t0
cpu = time.process_time() - c0
print(json.dumps({'rows': r.rows, 'quarantined': r.quarantined, 'seconds': dt, 'cpu_seconds': cpu,
                  'peak_rss_mb': peak_mb()}))
"""


BASELINE = """
import duckdb, json, sys, time
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
reader = {'parquet': 'read_parquet', 'csv': 'read_csv', 'jsonl': 'read_json'}[sys.argv[2]]
t0 = time.perf_counter()
c0 = time.process_time()
con.execute(f"COPY (SELECT * FROM {reader}('{sys.argv[1]}')) TO '{sys.argv[1]}.copy.parquet' (FORMAT parquet, COMPRESSION zstd)")
print(json.dumps({'seconds': time.perf_counter() - t0, 'cpu_seconds': time.process_time() - c0}))
"""


def run_baseline(path: Path, fmt: str) -> dict:
    """A bare DuckDB conversion of the same file to Parquet: no validation, no keys, no seals.
    Measured in the same run, its ratio to ingest is what the lake's guarantees cost."""
    out = subprocess.run([sys.executable, "-c", BASELINE, str(path), fmt], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


HERE_SRC = Path(__file__).resolve().parent.parent / "src"


def run_one(workdir: Path, path: Path, batch_rows: int, src: Path = HERE_SRC) -> dict:
    """One ingest in a fresh process and workspace, with ``src`` first on the import path."""
    ws = workdir / f"ws-{path.suffix[1:]}-{time.monotonic_ns()}"
    env = dict(os.environ, PYTHONPATH=str(src))
    out = subprocess.run([sys.executable, "-c", CHILD, str(ws), str(path), str(batch_rows)],
                         check=True, capture_output=True, text=True, env=env)
    shutil.rmtree(ws, ignore_errors=True)
    return json.loads(out.stdout)


def _line(label: str, r: dict) -> str:
    return (f"{label:12} {r['rows']:>10,} rows  {r['seconds']:6.2f}s  {r['rows'] / r['seconds']:>10,.0f} rows/s  "
            f"CPU {r['cpu_seconds']:6.2f}s ({r['rows'] / r['cpu_seconds']:>9,.0f} rows per CPU-second)  "
            f"peak RSS {r['peak_rss_mb']:.0f} MB")


def compare(tmp: Path, fmt: str, path: Path, args) -> None:
    """New and old code alternately on the same file; best of ``--repeat`` each, and ratios."""
    runs: dict[str, list[dict]] = {"new": [], "old": []}
    for _ in range(args.repeat):
        for label, src in (("new", HERE_SRC), ("old", Path(args.compare))):
            r = run_one(tmp, path, args.batch_rows, src)
            assert r["rows"] == args.rows and r["quarantined"] == 0, r
            runs[label].append(r)
    best = {k: min(v, key=lambda r: r["seconds"]) for k, v in runs.items()}
    cpu = {k: min(r["cpu_seconds"] for r in v) for k, v in runs.items()}
    rss = {k: max(r["peak_rss_mb"] for r in v) for k, v in runs.items()}
    for label in ("new", "old"):
        print(_line(f"{fmt} {label}", best[label]))
    print(f"{fmt:8} new/old: {best['old']['seconds'] / best['new']['seconds']:.2f}x rows/s, "
          f"{cpu['old'] / cpu['new']:.2f}x rows per CPU-second, peak RSS {rss['new']:.0f} vs {rss['old']:.0f} MB "
          f"(best of {args.repeat}; load average {os.getloadavg()[0]:.1f})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--formats", default="parquet,csv,jsonl")
    ap.add_argument("--batch-rows", type=int, default=0)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--baseline", action="store_true", help="also time a bare DuckDB conversion, for the ratio")
    ap.add_argument("--compare", default=None, help="another checkout's src folder to run side by side")
    ap.add_argument("--repeat", type=int, default=1, help="with --compare: runs of each, best kept")
    ap.add_argument("--addresses", choices=sorted(ADDRESSES), default="unique",
                    help="source addresses: nearly one per row (worst case) or a few per customer")
    args = ap.parse_args()
    formats = args.formats.split(",")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        paths = generate(tmp, args.rows, formats, addresses=args.addresses)
        print(f"generated {args.rows:,} access rows in {time.perf_counter() - t0:.1f}s: "
              + ", ".join(f"{f} {p.stat().st_size / 1e6:.0f} MB" for f, p in paths.items()))
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
        for fmt, path in paths.items():
            if args.compare:
                compare(tmp, fmt, path, args)
                continue
            r = run_one(tmp, path, args.batch_rows)
            assert r["rows"] == args.rows and r["quarantined"] == 0, r
            print(_line(fmt, r))
            if args.baseline:
                b = run_baseline(path, fmt)
                print(f"{'':8} bare DuckDB {fmt}->parquet copy: {b['seconds']:6.2f}s, CPU {b['cpu_seconds']:6.2f}s; "
                      f"ingest/bare: {r['seconds'] / b['seconds']:.1f}x wall, {r['cpu_seconds'] / b['cpu_seconds']:.1f}x CPU")


if __name__ == "__main__":
    main()
