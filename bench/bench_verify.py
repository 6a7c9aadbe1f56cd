"""``custodes verify`` over a lake the size of N access rows.

    python bench/bench_verify.py [--rows 100000000] [--seed-rows 1000000]

Ingests ``--seed-rows`` synthetic access rows for real (bench_ingest's generator), then grows
the lake to ``--rows`` by committing byte-identical copies of those partition files as further
sealed ingests (through the same manifest commit ingest uses), so verify hashes exactly as
many bytes as a lake of that many rows would hold. Times verify with a cold-ish and a warm
page cache (the machine has the RAM to cache it all), and checks it then catches one altered
file.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))  # this checkout's code, installed or not

from bench_ingest import generate  # noqa: E402

from custodes.lake import ingest, manifest, verify  # noqa: E402
from custodes.workspace import Workspace  # noqa: E402


def grow(ws: Workspace, copies: int) -> None:
    entries = manifest.entries(ws)
    seed = entries[-1]
    last = seed
    for i in range(copies):
        seq = last["seq"] + 1
        files = []
        for f in seed["files"]:
            src = ws.root / f["path"]
            dst = src.with_name(src.name.replace(f"part-{seed['seq']:010d}", f"part-{seq:010d}"))
            shutil.copyfile(src, dst)
            files.append(dict(f, path=str(dst.relative_to(ws.root))))
        entry = {k: v for k, v in seed.items() if k not in ("seal", "prev", "version")}
        entry.update(seq=seq, files=files, source=dict(seed["source"], sha256=f"copy-{i}"))
        last = manifest.commit(ws, entry, last)
    manifest.write_head(ws, last)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000_000)
    ap.add_argument("--seed-rows", type=int, default=1_000_000)
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        tmp = Path(tmp)
        src = generate(tmp, args.seed_rows, ["parquet"])["parquet"]
        ws = Workspace.open(tmp / "ws")
        ingest(ws, "access", [src])
        grow(ws, args.rows // args.seed_rows - 1)
        n_files = sum(len(e["files"]) for e in manifest.entries(ws))
        for label in ("first run", "second run"):
            t0 = time.perf_counter()
            report = verify(ws)
            took = time.perf_counter() - t0
            assert report.ok, report.to_dict()
            print(f"verify {label}: {args.rows:,} rows in {n_files} partition files, "
                  f"{report.bytes / 1e9:.2f} GB, {report.entries} sealed ingests: {took:.2f}s "
                  f"({report.bytes / 1e9 / took:.2f} GB/s)")
        victim = ws.root / manifest.entries(ws)[len(manifest.entries(ws)) // 2]["files"][0]["path"]
        with open(victim, "r+b") as fh:
            fh.seek(1000)
            byte = fh.read(1)
            fh.seek(1000)
            fh.write(bytes([byte[0] ^ 1]))
        report = verify(ws)
        print(f"one flipped bit: ok={report.ok}, altered={report.altered}")


if __name__ == "__main__":
    main()
