"""``custodes verify`` over a lake the size of N access rows, and what the chain check that
every ingest now runs first costs.

    python bench/bench_verify.py [--rows 100000000] [--seed-rows 1000000] [--compare OLD_SRC]
                                 [--entries 10000] [--repeat 3]

Ingests ``--seed-rows`` synthetic access rows for real (bench_ingest's generator), then grows
the lake to ``--rows`` by committing byte-identical copies of those partition files as further
sealed ingests (through the same manifest commit ingest uses), so verify hashes exactly as
many bytes as a lake of that many rows would hold. Times verify with a cold-ish and a warm
page cache, and checks it then catches one altered file.

With ``--compare OLD_SRC`` (another checkout's ``src``), in the same run and alternating:

1. verify of that lake by this code and by the old code (each in a fresh process);
2. an ingest of a small file (1,000 rows) into that lake by each: the new one checks the chain
   (every entry's seal and link, the head) before it changes anything, the old one did not;
3. the same small ingest into a lake of ``--entries`` manifest entries (one small file each),
   where the chain check has the most entries to read.
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

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))  # this checkout's code, installed or not

from bench_ingest import generate  # noqa: E402

from custodes.lake import ingest, manifest, verify  # noqa: E402
from custodes.workspace import Workspace  # noqa: E402

HERE_SRC = Path(__file__).resolve().parent.parent / "src"

CHILD = """
import json, sys, time
from custodes.workspace import Workspace
from custodes.lake import ingest, verify
ws = Workspace.open(sys.argv[2])
t0 = time.perf_counter()
if sys.argv[1] == 'verify':
    r = verify(ws)
    assert r.ok, r.to_dict()
else:
    r = ingest(ws, 'access', [sys.argv[3]])
    assert r.rows == int(sys.argv[4]), r.to_dict()
print(json.dumps({'seconds': time.perf_counter() - t0}))
"""


def child(src: Path, *argv) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD, *map(str, argv)], check=True, capture_output=True,
                         text=True, env=dict(os.environ, PYTHONPATH=str(src)))
    return json.loads(out.stdout)["seconds"]


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
        entry = {k: v for k, v in seed.items() if k not in ("seal", "prev", "version", "signature")}
        entry.update(seq=seq, files=files, source=dict(seed["source"], sha256=f"copy-{i}"))
        last = manifest.commit(ws, entry, last)
    manifest.write_head(ws, last)


def small_file(tmp: Path, n: int, i: int) -> Path:
    """A 1,000-row CSV access log whose content differs by ``i`` (so it is never skipped)."""
    path = tmp / f"small-{i}.csv"
    rows = ["time,src_ip,method,route,status,actor_type,actor_id,credential_type"]
    rows += [f"2025-05-01T00:{j // 60 % 60:02d}:{j % 60:02d}Z,198.51.100.{j % 250},GET,/api/v1/me/orders,200,"
             f"customer,c-{i}-{j},access_token" for j in range(n)]
    path.write_text("\n".join(rows) + "\n")
    return path


def side_by_side(label: str, runs: dict[str, list[float]]) -> None:
    best = {k: min(v) for k, v in runs.items()}
    print(f"{label}: new {best['new']:.3f}s, old {best['old']:.3f}s, new/old {best['new'] / best['old']:.2f} "
          f"(best of {len(runs['new'])}; load average {os.getloadavg()[0]:.1f})")


def compare_ingest(tmp: Path, ws: Workspace, old: Path, repeat: int, label: str) -> None:
    runs: dict[str, list[float]] = {"new": [], "old": []}
    for r in range(repeat):
        for name, src in (("new", HERE_SRC), ("old", old)):
            runs[name].append(child(src, "ingest", ws.root, small_file(tmp, 1000, r * 2 + (name == "old")), 1000))
    side_by_side(label, runs)


def many_entries(tmp: Path, n: int) -> Workspace:
    """A lake of ``n`` manifest entries, one small stored file each (the chain check's worst case:
    it reads every entry, and a year of hourly log files is 8,760 of them)."""
    ws = Workspace.open(tmp / "many")
    ingest(ws, "access", [small_file(tmp, 100, -1)])
    seed = manifest.entries(ws)[-1]
    stored = ws.root / seed["files"][0]["path"]
    last = seed
    for seq in range(2, n + 1):
        dst = stored.with_name(f"part-{seq:010d}-0000.parquet")
        shutil.copyfile(stored, dst)
        entry = {k: v for k, v in seed.items() if k not in ("seal", "prev", "version", "signature")}
        entry.update(seq=seq, files=[dict(seed["files"][0], path=str(dst.relative_to(ws.root)))],
                     source=dict(seed["source"], sha256=f"copy-{seq}"))
        last = dict(entry, version=manifest.ENTRY_VERSION, prev=last["seal"])
        last["seal"] = manifest.seal.entry_seal(last)
        manifest.entry_path(ws, seq).write_text(json.dumps(last, indent=1, sort_keys=True))  # no fsync: setup only
    manifest.write_head(ws, last)
    return ws


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000_000)
    ap.add_argument("--seed-rows", type=int, default=1_000_000)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--compare", default=None, help="another checkout's src folder to run side by side")
    ap.add_argument("--entries", type=int, default=0, help="with --compare: also ingest into a lake of this many entries")
    ap.add_argument("--repeat", type=int, default=3)
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
        if args.compare:
            old = Path(args.compare)
            runs: dict[str, list[float]] = {"new": [], "old": []}
            for _ in range(args.repeat):
                for name, code in (("new", HERE_SRC), ("old", old)):
                    runs[name].append(child(code, "verify", ws.root))
            side_by_side(f"verify, {args.rows:,} rows", runs)
            compare_ingest(tmp, ws, old, args.repeat, f"ingest 1,000 rows into the {args.rows:,}-row lake")
            if args.entries:
                many = many_entries(tmp, args.entries)
                compare_ingest(tmp, many, old, args.repeat, f"ingest 1,000 rows into a lake of {args.entries:,} entries")
                from custodes.lake import chain
                took = []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    checked = chain.read(many)
                    assert chain.ingest_refusal(checked, manifest.seal.Keys.of(many)) is None
                    took.append(time.perf_counter() - t0)
                print(f"the chain check alone, {len(checked.entries):,} entries: {min(took):.3f}s (best of {len(took)})")
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
