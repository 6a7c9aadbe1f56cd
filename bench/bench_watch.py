"""`custodes watch` over a simulated world (issue #15 item 2 and the speed targets). Run by
hand; figures go to BENCHMARKS.md.

1. **Hour slices** (``--part delay``): the world replayed through `watch --once` cycles
   (custodes.watch.replay: the history in one slice, each scenario from its start in one-hour
   slices until it alerted, day slices after); per scenario, the data-time delay from its first
   malicious request to its first alert at high or critical.
2. **Speed** (``--part speed``): a workspace holding the world up to ``--hours`` hours before
   its end; then, one at a time, each of those hours: the cycle that brings one new hour
   onto the history (ingest + detect + alerts into a file sink); then cycles with nothing new.
   Beside each, in the same run, what a cron job does with main's commands: `custodes ingest`
   of every source folder (content-addressed: it hashes every file to find the new one) and
   `custodes detect` (incremental).

    python bench/bench_watch.py --dir /tmp/bench-watch [--customers 50000 --days 60] [--part delay speed]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml


def world(args) -> Path:
    from custodes.simulate import simulate

    sim = Path(args.dir) / f"world-{args.customers}-{args.days}-{args.seed}"
    if not (sim / "ground_truth.json").exists():
        simulate(sim, customers=args.customers, days=args.days, seed=args.seed)
    return sim


def fresh(args, name: str):
    from custodes.workspace import Workspace

    root = Path(args.dir) / name
    shutil.rmtree(root, ignore_errors=True)
    ws = Workspace.open(root / "ws")
    return ws, root / "feed"


def configure(ws, sim: Path, feed: Path) -> None:
    from custodes.watch.replay import configuration

    ws.config_path.write_text(yaml.safe_dump(configuration(sim, feed, ws.root / "alerts.jsonl")))


def delay(args, sim: Path) -> dict:
    from custodes.watch.replay import replay

    ws, feed = fresh(args, "delay")
    configure(ws, sim, feed)
    began = time.perf_counter()

    def show(step):
        named = ", ".join(f"{a['severity']} {a['event']} ({a['scenario'] or 'no scenario'})" for a in step.alerts)
        print(f"  {step.mode:<7} until {step.until}  rows {sum(step.rows.values()):>9,}  "
              f"{step.seconds:6.2f} s  {named}", flush=True)

    timeline = replay(ws, sim, feed, hours=args.hours_after, on_step=show)
    out = timeline.to_dict()
    out["seconds"] = time.perf_counter() - began
    print("\nper scenario: data time from its first malicious request to its first high/critical alert")
    for name, f in timeline.first.items():
        said = (f"{f.delay} ({f.severity} {f.event}, in the cycle after the slice ending {f.alert_at}; "
                f"detection's data time {f.data_time})" if f.delay else "no alert")
        warned = f"; warned before it began, at {f.warned_at}: {f.warning}" if f.warned_at else ""
        print(f"  {name:<22} started {f.start}: {said}{warned}")
    print(f"replay: {len(timeline.steps)} cycles in {out['seconds']:.1f} s")
    return out


def _median_of(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def _cron(ws, sim: Path, feed: Path) -> None:
    """What a cron job does with main's commands, in a child process (its own imports count,
    as watch --once's would; watch's cycle is timed in-process below, so both are given)."""
    env = dict(os.environ)
    cmds = [["ingest", d, str(feed / d)] for d in ("access", "issuance")]
    cmds += [["ingest", n.split(".")[0], str(sim / n)] for n in
             ("workforce.csv", "credentials.csv", "keys.csv", "key_custody.csv", "catalog.csv")]
    for c in cmds + [["detect"]]:
        subprocess.run([sys.executable, "-m", "custodes", *c, "--workspace", str(ws.root)], check=True, env=env,
                       stdout=subprocess.DEVNULL)


def speed(args, sim: Path) -> dict:
    from custodes.watch import run_cycle
    from custodes.watch.replay import Feed

    ws, feed_dir = fresh(args, "speed")
    configure(ws, sim, feed_dir)
    feed = Feed(sim, feed_dir)
    cut = feed.end - dt.timedelta(hours=args.hours)
    began = time.perf_counter()
    feed.until(cut)
    first = run_cycle(ws)
    print(f"history up to {cut:%Y-%m-%d %H:%M}: first cycle {time.perf_counter() - began:.1f} s "
          f"(ok {first.ok})", flush=True)
    hour, phases = [], []
    for k in range(args.hours):
        feed.until(cut + dt.timedelta(hours=k + 1))
        t0 = time.perf_counter()
        report = run_cycle(ws)
        took = time.perf_counter() - t0
        hour.append(took)
        phases.append({"ingest": sum(s.seconds for s in report.sources), "detect": report.detect.get("seconds", 0),
                       "alerts": report.alerts.get("seconds", 0), "rows": sum(s.rows for s in report.sources)})
        print(f"  one new hour ({phases[-1]['rows']:,} rows): {took:.2f} s  "
              f"(ingest {phases[-1]['ingest']:.2f}, detect {phases[-1]['detect']:.2f}, "
              f"alerts {phases[-1]['alerts']:.3f})", flush=True)
    quiet = _median_of(lambda: run_cycle(ws), args.reps)
    print(f"  nothing new, watch cycle (in-process): median {quiet * 1000:.0f} ms of {args.reps}", flush=True)
    once = _median_of(lambda: subprocess.run(
        [sys.executable, "-m", "custodes", "watch", "--once", "--workspace", str(ws.root)],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), args.reps)
    print(f"  nothing new, `custodes watch --once` (a process, imports included): median {once:.2f} s", flush=True)
    cron = _median_of(lambda: _cron(ws, sim, feed_dir), args.reps)
    print(f"  nothing new, main's cron (`ingest` of each source + `detect`, 8 processes): median {cron:.2f} s",
          flush=True)
    return {"hour_cycles": hour, "phases": phases, "nothing_new_cycle": quiet, "nothing_new_once": once,
            "nothing_new_cron": cron}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", default="/tmp/bench-watch")
    p.add_argument("--customers", type=int, default=50_000)
    p.add_argument("--days", type=int, default=60)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--part", nargs="+", choices=["delay", "speed"], default=["delay", "speed"])
    p.add_argument("--hours-after", type=int, default=6, help="hour slices after a scenario's start")
    p.add_argument("--hours", type=int, default=3, help="speed: new hours timed one by one")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--json", default=None, help="write the figures here")
    args = p.parse_args()
    import custodes

    print(f"custodes from {Path(custodes.__file__).parent}; load average {os.getloadavg()}", flush=True)
    sim = world(args)
    out = {"load_start": os.getloadavg()}
    if "delay" in args.part:
        out["delay"] = delay(args, sim)
    if "speed" in args.part:
        out["speed"] = speed(args, sim)
    out["load_end"] = os.getloadavg()
    print(f"load average at the end {out['load_end']}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
