"""Benchmark: how fast `custodes simulate` writes events, and how much memory it holds.

Each configuration runs in a fresh process (so its peak RSS is its own) and reports: access
events written, wall seconds, CPU seconds (the process and its workers), events per wall second,
the peak RSS of the parent and of the largest worker, and the bytes written. Two sizes that
differ only in the number of days show whether memory grows with days (it should not: a day at
a time).

    python bench/bench_simulate.py                      # the standard set (about 100M events)
    python bench/bench_simulate.py --quick              # small, for a smoke run
    python bench/bench_simulate.py --run 1000000 10 2   # one run: customers days workers

The machine is shared: compare figures of one run side by side, and read CPU seconds beside wall.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

STANDARD = [  # (label, customers, days, workers)
    ("default world", 50_000, 60, 2),
    ("1M customers, 10 days, 1 worker", 1_000_000, 10, 1),
    ("1M customers, 10 days, 2 workers", 1_000_000, 10, 2),
    ("1M customers, 40 days, 2 workers", 1_000_000, 40, 2),
]
QUICK = [
    ("small, 1 worker", 20_000, 10, 1),
    ("small, 2 workers", 20_000, 10, 2),
    ("small, 4x days", 20_000, 40, 2),
]

CHILD = r"""
import json, resource, sys, time
from custodes.simulate import simulate
customers, days, workers, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
wall = time.perf_counter()
summary = simulate(out, customers=customers, days=days, seed=1, workers=workers)
wall = time.perf_counter() - wall
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({
    "events": summary.counts["access"], "tokens": summary.counts["issuance"], "wall_s": wall,
    "cpu_s": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
    "rss_parent_mb": me.ru_maxrss / 1024, "rss_worker_mb": kids.ru_maxrss / 1024,
}))
"""


def run_one(customers: int, days: int, workers: int, scratch: Path) -> dict:
    out = scratch / f"w-{customers}-{days}-{workers}"
    proc = subprocess.run([sys.executable, "-c", CHILD, str(customers), str(days), str(workers), str(out)],
                          capture_output=True, text=True, check=True)
    result = json.loads(proc.stdout)
    result["bytes"] = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    result["events_per_s"] = result["events"] / result["wall_s"]
    result["events_per_cpu_s"] = result["events"] / result["cpu_s"]
    shutil.rmtree(out)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--run", nargs=3, type=int, metavar=("CUSTOMERS", "DAYS", "WORKERS"))
    parser.add_argument("--dir", default=None, help="scratch directory (default: a temporary one)")
    args = parser.parse_args()
    configs = [("custom", *args.run)] if args.run else QUICK if args.quick else STANDARD
    scratch = Path(args.dir or tempfile.mkdtemp(prefix="custodes-bench-sim-"))
    scratch.mkdir(parents=True, exist_ok=True)
    print(f"cpus: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.1f}")
    print(f"{'configuration':36} {'events':>12} {'wall s':>8} {'cpu s':>8} {'events/s':>11} "
          f"{'ev/cpu-s':>10} {'RSS parent':>11} {'RSS worker':>11} {'bytes/ev':>9}")
    for label, customers, days, workers in configs:
        r = run_one(customers, days, workers, scratch)
        print(f"{label:36} {r['events']:>12,} {r['wall_s']:>8.1f} {r['cpu_s']:>8.1f} "
              f"{r['events_per_s']:>11,.0f} {r['events_per_cpu_s']:>10,.0f} {r['rss_parent_mb']:>8,.0f} MB "
              f"{r['rss_worker_mb']:>8,.0f} MB {r['bytes'] / r['events']:>9.1f}", flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    if not args.dir:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
