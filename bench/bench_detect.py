"""Detection speed (issue #4). Run by hand; figures go to BENCHMARKS.md.

1. The whole rule pack, --full, over a simulated world loaded into a lake (events/s, peak RSS).
2. An incremental run after one more day arrives (seconds); and (hourly) after one more hour
   arrives onto the whole history, the detection part of a watch cycle.
3. Side by side, in one run, over the same events: the core rules as a per-event Python rule
   engine (Panther/StreamAlert style: a function called per event, with lookups in dicts and
   sets) against the same rules as columnar queries on the engine. The ratio.
4. With --base SRC (e.g. /tmp/custodes-base/src): steps 1 and 2 also with that older code, on
   the same lake in the same run, and whether both give the same findings. Each detection runs
   in its own process (PYTHONPATH=SRC or this checkout's src), so peak RSS is its own.

    python bench/bench_detect.py --customers 50000 --days 60 --dir /tmp/bench-detect \
        [--base /tmp/custodes-base/src] [--skip side] [--reuse]

    # about 100M access events (check df first: ~12 GB under --dir):
    python bench/bench_detect.py --customers 600000 --days 60 --dir /tmp/bd100 --skip side incremental --reuse

The world is simulated once into --dir and reused; --reuse also keeps the lake built by an
earlier run. Event files are written into the lake with DuckDB (bench/detect_world.fast_events)
so the figure is detection's, not ingestion's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from detect_world import EVENTS, day_files, fast_events, load_reference  # noqa: E402

CORE_RULES = ("token.unissued", "token.expired_use", "token.retired_key",
              "credential.after_termination", "credential.after_revocation",
              "source.many_accounts", "employee.many_customers")


def world(args) -> Path:
    from custodes.simulate import simulate

    sim = Path(args.dir) / f"world-{args.customers}-{args.days}"
    if not (sim / "ground_truth.json").exists():
        started = time.perf_counter()
        simulate(sim, customers=args.customers, days=args.days, seed=args.seed)
        print(f"simulated in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return sim


def lake(args, sim: Path, name: str, last_day: bool):
    """A workspace holding every day (last_day) or all but the last."""
    from custodes.workspace import Workspace

    root = Path(args.dir) / name
    if getattr(args, "reuse", False) and last_day and (root / "lake" / "access").is_dir():
        return Workspace.open(root)
    shutil.rmtree(root, ignore_errors=True)
    ws = Workspace.open(root)
    load_reference(ws, sim)
    held = {}
    if not last_day:  # hide the last day's files from the loader, for the incremental step
        for dataset in EVENTS:
            files = day_files(sim, dataset)
            held[dataset] = files[-1]
            files[-1].rename(files[-1].with_suffix(".held"))
    try:
        fast_events(ws, sim)
    finally:
        for path in held.values():
            path.with_suffix(".held").rename(path)
    return ws


def access_rows(ws) -> int:
    from custodes.engine import connect

    engine = connect(ws, "duckdb")
    t = engine.table("access")
    return int(engine.to_arrow(t.aggregate(n=t.count())).column("n")[0].as_py())


# Each detection run in a child process, with the code under test on its PYTHONPATH ------------
HERE_SRC = Path(__file__).resolve().parent.parent / "src"


def child(mode: str, root: str) -> None:
    """In the child: one detection run; print seconds, peak RSS and a digest of the findings."""
    from custodes.detect.run import detect
    from custodes.detect.store import load_findings
    from custodes.workspace import Workspace

    ws = Workspace.open(Path(root))
    started = time.perf_counter()
    summary = detect(ws, full=(mode == "full"))
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": round(seconds, 2), "mode": summary.mode, "since": summary.since,
                      "findings": summary.findings, "incidents": summary.incidents,
                      "digest": findings_digest(load_findings(ws)),
                      "peak_rss_mib": peak_rss_mib()}))


def peak_rss_mib() -> int:
    """This process's own peak RSS (VmHWM: unlike ru_maxrss, not carried over from the parent
    across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def findings_digest(findings: list[dict]) -> str:
    """What must not change between two versions of the code: ids, severities, evidence,
    entities and time spans of every finding."""
    keep = ("finding_id", "rule_id", "severity", "first_seen", "last_seen", "evidence", "entities")
    rows = sorted(json.dumps({k: f.get(k) for k in keep}, sort_keys=True) for f in findings)
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]


def run_child(src: Path, mode: str, ws) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src))
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(ws.root)], env=env,
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"detection with {src} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def codes(args) -> dict[str, Path]:
    found = {"new": HERE_SRC}
    if args.base:
        found["base"] = Path(args.base)
    return found


def bench_full(args, ws) -> dict:
    events = access_rows(ws)
    out = {"access_events": events}
    for name, src in codes(args).items():
        r = run_child(src, "full", ws)
        r["events_per_second"] = round(events / r["seconds"])
        out[name] = r
        print(json.dumps({name: r}), file=sys.stderr)
    _compare(out)
    return out


def bench_incremental(args, sim: Path) -> dict:
    """An incremental run after one more day arrives (late events make it recompute two)."""
    ws = lake(args, sim, "lake-incremental", last_day=False)

    def last_day():
        tmp = Path(args.dir) / "last-day"
        shutil.rmtree(tmp, ignore_errors=True)
        for dataset in EVENTS:
            (tmp / dataset).mkdir(parents=True)
            shutil.copy(day_files(sim, dataset)[-1], tmp / dataset)
        fast_events(ws, tmp, first_seq=5_000_000)

    return side_by_side_incremental(args, ws, last_day, "incremental")


def bench_hourly(args, sim: Path) -> dict:
    """An incremental run after one more hour arrives onto the whole history (the watch cycle's
    detection)."""
    import datetime as dt

    from custodes.workspace import Workspace

    end = dt.datetime.fromisoformat(json.loads((sim / "ground_truth.json").read_text())["end"].replace("Z", "+00:00"))
    cut = end - dt.timedelta(hours=1)
    root = Path(args.dir) / "lake-hourly"
    shutil.rmtree(root, ignore_errors=True)
    ws = Workspace.open(root)
    load_reference(ws, sim)
    fast_events(ws, sim, until=cut)
    out = side_by_side_incremental(
        args, ws, lambda: fast_events(ws, sim, first_seq=5_000_000, since=cut, until=end), "hourly")
    return {"hour": cut.isoformat(), "access_events": access_rows(ws), **out}


def side_by_side_incremental(args, ws, arrive, label: str) -> dict:
    """Each version runs --full on the lake and keeps its own state; ``arrive()`` writes the
    new data; each version then runs incrementally from its state. Also whether the new
    code's incremental run equals a --full run after it."""
    states = {}
    for name, src in codes(args).items():
        shutil.rmtree(ws.detect, ignore_errors=True)
        run_child(src, "full", ws)
        states[name] = ws.detect.parent / f"detect-{name}"
        shutil.rmtree(states[name], ignore_errors=True)
        shutil.copytree(ws.detect, states[name])
    arrive()
    out = {}
    for name, src in codes(args).items():
        shutil.rmtree(ws.detect)
        shutil.copytree(states[name], ws.detect)
        out[name] = run_child(src, "incremental", ws)
        print(json.dumps({f"{label} {name}": out[name]}), file=sys.stderr)
    out["after_full"] = run_child(HERE_SRC, "full", ws)["digest"]
    out["incremental_equals_full"] = out["new"]["digest"] == out["after_full"]
    _compare(out)
    return out


def _compare(out: dict) -> None:
    if "base" in out:
        out["same_findings_as_base"] = out["new"]["digest"] == out["base"]["digest"]
        out["speedup_vs_base"] = round(out["base"]["seconds"] / out["new"]["seconds"], 2)


# The per-event Python engine -------------------------------------------------------------
class PerEventEngine:
    """The core rules the usual way: one Python function per event, state in dicts and sets."""

    def __init__(self, issued: set, keys: dict, leavers: dict, owners: dict, revoked: dict):
        self.issued, self.keys, self.leavers, self.owners, self.revoked = issued, keys, leavers, owners, revoked
        self.hits: dict[str, int] = {}
        self.asn_day: dict = {}
        self.staff_day: dict = {}

    def hit(self, rule: str) -> None:
        self.hits[rule] = self.hits.get(rule, 0) + 1

    def process(self, e: dict) -> None:
        if e["status"] >= 400:
            return
        t = e["time"]
        if e["credential_type"] == "access_token" and e["credential_id"]:
            if e["credential_id"] not in self.issued:
                self.hit("token.unissued")
            if e["token_exp"] and t > e["token_exp"] + dt.timedelta(minutes=5):
                self.hit("token.expired_use")
            retired = self.keys.get(e["token_kid"])
            if retired and t > retired + dt.timedelta(minutes=5):
                self.hit("token.retired_key")
        elif e["credential_id"]:
            owner_left = self.leavers.get(self.owners.get(e["credential_id"]))
            if owner_left and t > owner_left:
                self.hit("credential.after_termination")
            revoked = self.revoked.get(e["credential_id"])
            if revoked and t > revoked:
                self.hit("credential.after_revocation")
        if e["actor_type"] == "employee" and e["actor_id"] in self.leavers and t > self.leavers[e["actor_id"]]:
            self.hit("credential.after_termination")
        day = t.date()
        account = e["account_id"] or (e["actor_id"] if e["actor_type"] == "customer" else None)
        if e["actor_type"] == "customer" and e["asn"] is not None and account:
            self.asn_day.setdefault((e["asn"], day), set()).add(account)
        if e["actor_type"] == "employee" and account:
            self.staff_day.setdefault((e["actor_id"], day), set()).add(account)

    def finish(self) -> None:
        for accounts in self.asn_day.values():
            if len(accounts) >= 50:
                self.hit("source.many_accounts.candidates")
        for accounts in self.staff_day.values():
            if len(accounts) >= 30:
                self.hit("employee.many_customers.candidates")


def side_by_side(ws, sample: int) -> dict:
    """The same events through both: per-event Python and the engine's core rules."""
    from custodes.detect.registry import all_rules
    from custodes.detect.run import evaluate
    from custodes.engine import connect

    engine = connect(ws, "duckdb")
    access = engine.table("access")
    # the first days holding `sample` events
    per_day = engine.to_arrow(access.group_by(d=access.time.date()).aggregate(n=access.count()).order_by("d")).to_pylist()
    total, end = 0, None
    for row in per_day:
        total += row["n"]
        end = row["d"]
        if total >= sample:
            break
    until = dt.datetime.combine(end, dt.time(), dt.timezone.utc) + dt.timedelta(days=1)
    part = engine.to_arrow(access.filter(access.time < until))
    small = connect(None, "duckdb")
    for name in ("issuance", "keys", "workforce", "credentials", "key_custody", "catalog"):
        small.register(name, engine.to_arrow(engine.table(name)))
    small.register("access", part)
    rules = [r for r in all_rules() if r.id in CORE_RULES]

    started = time.perf_counter()
    found = evaluate(small, rules)
    columnar = time.perf_counter() - started

    ref = {n: engine.to_arrow(engine.table(n)).to_pylist() for n in ("keys", "workforce", "credentials")}
    issued = set(engine.to_arrow(engine.table("issuance").select("token_id")).column("token_id").to_pylist())
    keys = {k["kid"]: k["retired_at"] for k in ref["keys"] if k["retired_at"]}
    leavers = {w["employee_id"]: w["terminated_at"] for w in ref["workforce"] if w["terminated_at"]}
    owners = {c["credential_id"]: c["owner_id"] for c in ref["credentials"]}
    revoked = {c["credential_id"]: c["revoked_at"] for c in ref["credentials"] if c["revoked_at"]}
    python = PerEventEngine(issued, keys, leavers, owners, revoked)
    started = time.perf_counter()
    for batch in part.to_batches(max_chunksize=65_536):
        for event in batch.to_pylist():
            python.process(event)
    python.finish()
    per_event = time.perf_counter() - started
    return {"events": part.num_rows, "columnar_seconds": round(columnar, 2),
            "per_event_python_seconds": round(per_event, 2),
            "columnar_events_per_second": round(part.num_rows / columnar),
            "per_event_events_per_second": round(part.num_rows / per_event),
            "ratio": round(per_event / columnar, 1), "columnar_findings": len(found),
            "per_event_hits": python.hits}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=40_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--dir", default="/tmp/bench-detect")
    ap.add_argument("--sample", type=int, default=2_000_000, help="events for the side-by-side run")
    ap.add_argument("--skip", nargs="*", default=[], choices=["full", "incremental", "side", "hourly"])
    ap.add_argument("--base", default=None, help="src folder of older code to run beside (e.g. /tmp/custodes-base/src)")
    ap.add_argument("--reuse", action="store_true", help="reuse the lake an earlier run built under --dir")
    ap.add_argument("--child", nargs=2, metavar=("MODE", "WORKSPACE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(*args.child)
    sim = world(args)
    report = {"customers": args.customers, "days": args.days, "load_average_start": os.getloadavg()}
    ws = lake(args, sim, "lake-full", last_day=True) if {"full", "side"} - set(args.skip) else None
    if "full" not in args.skip:
        report["full"] = bench_full(args, ws)
        print(json.dumps(report["full"]), file=sys.stderr)
    if "side" not in args.skip:
        report["side_by_side"] = side_by_side(ws, args.sample)
        print(json.dumps(report["side_by_side"]), file=sys.stderr)
    if "incremental" not in args.skip:
        report["incremental"] = bench_incremental(args, sim)
    if "hourly" not in args.skip:
        report["hourly"] = bench_hourly(args, sim)
    report["peak_rss_mib_bench_process"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    report["load_average_end"] = os.getloadavg()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
