"""Alerting's cost in a cycle (issue #15: "alert delivery adds nothing measurable to a cycle
when the sinks answer"). Run by hand; figures go to BENCHMARKS.md.

Over a simulated world (lake built with bench/detect_world.fast_events, then `detect --full`),
in one run, medians of --reps:

1. a detection cycle with nothing new (`detect`, incremental): what main's code does per cycle;
2. `custodes.alerts.process` with nothing new (steady state), sinks a loopback webhook (signed)
   and a file;
3. `process` that enqueues and delivers every critical incident's `opened` (first cycle), and
   then the high ones (min_severity lowered: a cycle with a few new alerts);
4. the same with the webhook answering after 50 ms (a slow but working receiver).

    python bench/bench_alerts.py --customers 20000 --days 30 --dir /tmp/bench-alerts [--reps 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from detect_world import fast_events, load_reference  # noqa: E402


class Receiver:
    def __init__(self, delay: float = 0.0):
        self.count, self.delay = 0, delay
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if outer.delay:
                    time.sleep(outer.delay)
                outer.count += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def build(args) -> "Workspace":  # noqa: F821
    from custodes.detect.run import detect
    from custodes.simulate import simulate
    from custodes.workspace import Workspace

    sim = Path(args.dir) / f"world-{args.customers}-{args.days}"
    if not (sim / "ground_truth.json").exists():
        simulate(sim, customers=args.customers, days=args.days, seed=7)
    root = Path(args.dir) / "ws"
    shutil.rmtree(root, ignore_errors=True)
    ws = Workspace.open(root)
    load_reference(ws, sim)
    fast_events(ws, sim)
    detect(ws, full=True)
    return ws


def configure(ws, url: str, secret: Path, min_severity: str) -> None:
    ws.config_path.write_text(yaml.safe_dump({"alerts": {"min_severity": min_severity, "sinks": [
        {"type": "webhook", "url": url, "secret_file": str(secret)},
        {"type": "file", "path": str(ws.root / "alerts.jsonl")}]}}))


def reset(ws) -> None:
    shutil.rmtree(ws.root / "alerts", ignore_errors=True)
    (ws.root / "alerts.jsonl").unlink(missing_ok=True)


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--customers", type=int, default=20000)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--dir", default="/tmp/bench-alerts")
    p.add_argument("--reps", type=int, default=5)
    args = p.parse_args()
    from custodes.alerts import process
    from custodes.detect.run import detect
    from custodes.detect.store import load_incidents

    ws = build(args)
    secret = Path(args.dir) / "hook.secret"
    secret.write_text("bench-secret\n")
    incidents = load_incidents(ws)
    by_sev = {s: sum(i["severity"] == s for i in incidents) for s in ("critical", "high")}
    print(f"world: {args.customers} customers, {args.days} days; {len(incidents)} incidents "
          f"({by_sev['critical']} critical, {by_sev['high']} high)")

    detect_s = statistics.median(timed(lambda: detect(ws)) for _ in range(args.reps))
    print(f"1. detect, nothing new (incremental)         {detect_s * 1000:8.1f} ms")
    for delay in (0.0, 0.05):
        rx = Receiver(delay)
        first, few, steady = [], [], []
        for _ in range(args.reps):
            reset(ws)
            configure(ws, rx.url, secret, "critical")
            now = dt.datetime.now(dt.timezone.utc)
            first.append((timed(lambda: process(ws, now)), rx.count))
            configure(ws, rx.url, secret, "high")
            before = rx.count
            few.append((timed(lambda: process(ws, now)), rx.count - before))
            steady.append(timed(lambda: process(ws, now)))
        label = f"receiver answering in {delay * 1000:.0f} ms"
        f_s, f_n = statistics.median(t for t, _ in first), first[0][1]
        h_s, h_n = statistics.median(t for t, _ in few), few[0][1]
        s_s = statistics.median(steady)
        print(f"   [{label}]")
        print(f"2. process, nothing new                      {s_s * 1000:8.1f} ms  ({s_s / detect_s:.3f} of 1)")
        print(f"3a. process, {f_n:3d} opened (critical) x2 sinks {f_s * 1000:8.1f} ms  ({f_s / detect_s:.3f} of 1)")
        print(f"3b. process, {h_n:3d} more (high)       x2 sinks {h_s * 1000:8.1f} ms  ({h_s / detect_s:.3f} of 1)")
        rx.server.shutdown()


if __name__ == "__main__":
    main()
