"""Writing the accounts CSV of a large breach: this checkout against another, side by side.

    python bench/bench_export.py [--accounts 10000000] [--repeat 3] [--old /tmp/custodes-main]

Builds one Arrow table shaped as ``accounts_table`` returns it (account ids, first/last access,
requests, ``;``-joined fields; 1% of ids start with a formula character, as forged subs would),
then times, each in its own process, ``write_accounts_csv``'s writing step (``write_csv_rows``
into an ``output_file`` here; into ``private_open`` in a checkout without it) over the same
table, and checks both files hold the same rows (the new one with those 1% quoted). The
figure is in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def build(path: Path, n: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rng = np.random.default_rng(7)
    ids = pc.binary_join_element_wise("c", pa.array(rng.integers(10**9, 10**10, n)).cast(pa.string()), "")
    forged = rng.random(n) < 0.01
    ids = pc.if_else(pa.array(forged), pc.binary_join_element_wise("=HYPERLINK(", ids, ")", ""), ids)
    start = np.datetime64("2025-04-01T00:00:00", "us").astype(np.int64)
    first = start + rng.integers(0, 30 * 86400 * 10**6, n)
    fields = pa.array(rng.choice(["name;email", "name;phone;address", "order_history", ""], n))
    pq.write_table(pa.table({
        "account_id": ids, "first_access": pa.array(first, pa.timestamp("us", tz="UTC")),
        "last_access": pa.array(first + rng.integers(0, 86400 * 10**6, n), pa.timestamp("us", tz="UTC")),
        "requests": pa.array(rng.integers(1, 50, n), pa.int64()), "fields": fields}), path)


CHILD = r"""
import sys, time, json
sys.path.insert(0, sys.argv[1] + "/src")
import pyarrow.parquet as pq
from pathlib import Path
import importlib
s = importlib.import_module("custodes.respond.scope")
table = pq.read_table(sys.argv[2])
cols = [table.column("account_id"), s.iso_strings(table.column("first_access")),
        s.iso_strings(table.column("last_access")), table.column("requests"), table.column("fields")]
times = []
for i in range(int(sys.argv[4])):
    out = Path(sys.argv[3] + f".{i}")
    t0 = time.perf_counter()
    if hasattr(s, "output_file"):
        with s.output_file(out) as fh:
            s.write_csv_rows(fh, cols)
    else:
        with s.private_open(out, "w", newline="", encoding="utf-8") as fh:
            s.write_csv_rows(fh, cols)
    times.append(time.perf_counter() - t0)
print(json.dumps(times))
"""


def timed(checkout: Path, table: Path, out: Path, repeat: int) -> list[float]:
    r = subprocess.run([sys.executable, "-c", CHILD, str(checkout), str(table), str(out), str(repeat)],
                       capture_output=True, text=True, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    if r.returncode:
        raise SystemExit(f"{checkout}: {r.stderr}")
    return json.loads(r.stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--old", type=Path, default=None, help="another checkout to time side by side")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        build(tmp / "accounts.parquet", args.accounts)
        runs = {"this": [], "old": []} if args.old else {"this": []}
        for n in range(args.repeat):  # interleaved, so a change in the machine's load hits both
            runs["this"] += timed(HERE, tmp / "accounts.parquet", tmp / f"this-{n}.csv", 1)
            if args.old:
                runs["old"] += timed(args.old, tmp / "accounts.parquet", tmp / f"old-{n}.csv", 1)
            for done in tmp.glob(f"*-{n - 1}.csv.0"):
                done.unlink()  # keep the disk use to one round's files
        if args.old:
            last = args.repeat - 1
            new = (tmp / f"this-{last}.csv.0").read_text().splitlines()
            old = (tmp / f"old-{last}.csv.0").read_text().splitlines()
            assert len(new) == len(old) and all(a == b or a.lstrip('"').startswith("'") for a, b in zip(new, old))
        for name, times in runs.items():
            print(f"{name:>4}: best {min(times):.2f} s of {args.repeat} ({args.accounts / min(times) / 1e6:.2f} M rows/s)")
        if args.old:
            print(f"ratio this/old: {min(runs['this']) / min(runs['old']):.2f}")


if __name__ == "__main__":
    main()
