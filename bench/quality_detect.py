"""Detection quality on simulated worlds (issue #4): run by hand, figures go to BENCHMARKS.md.

For each seed: simulate a world, load it, run detection (full), and score it against the
simulator's ground truth:

- every scenario detected at high/critical by an incident sharing its indicators;
- no high/critical incident without a scenario behind it;
- the incident's requests (custodes.detect.evidence.incident_requests, what scope uses) against
  the scenario's account list: precision and recall;
- per rule: precision and recall of the accounts behind its findings;
- with --daily: time to detect in daily incremental runs (ingest a day, detect);
- with --hourly: the events delivered in hour slices (custodes.detect.replay) from the day
  before the first scenario starts, an incremental run after each: per scenario the data-time
  delay from its first request to the first run whose findings about its events (in incidents
  attributed to it) stood at medium, high and critical, and every run's high/critical
  incidents that no scenario explains (a partial day must not raise what the whole day does
  not); --issuance-late delivers each issuance slice with the next access slice;
- with --withhold issuance: the same without the issuance ledger.

    python bench/quality_detect.py --seeds 1 2 3 --customers 3000 --days 30 [--daily] [--withhold issuance]
    python bench/quality_detect.py --seeds 1 --customers 2000 --days 28 --hourly [--issuance-late]
    python bench/quality_detect.py --seeds 11 --customers 50000 --days 60 --hourly --hourly-from 2025-03-15 --hourly-days 6

The code measured is whatever ``custodes`` is on PYTHONPATH (e.g. an older checkout's src);
the slicing helper is always this checkout's src/custodes/detect/replay.py.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from detect_world import load_events, load_reference  # noqa: E402

from custodes.detect.rule import SEVERITIES  # noqa: E402
from custodes.detect.truth import HIGH, attribute, shared_indicators as matches  # noqa: E402
from custodes.detect.truth import load_truth as truth_of  # noqa: E402


def accounts_of(engine, table) -> set[str]:
    if table is None:
        return set()
    rows = engine.to_arrow(table.select("account_id").filter(table.account_id.notnull()).distinct())
    return set(rows.column("account_id").to_pylist())


def pr(found: set, truth: set) -> tuple[float, float]:
    hit = len(found & truth)
    return (hit / len(found) if found else 1.0, hit / len(truth) if truth else 1.0)


def score(ws, sim: Path) -> dict:
    from custodes.detect.evidence import findings_requests, incident_requests
    from custodes.detect.store import load_findings_raw, load_incidents
    from custodes.engine import connect

    gt = truth_of(sim)
    engine = connect(ws, "duckdb")
    incidents = load_incidents(ws)
    out = {"scenarios": {}, "unexplained_high": [], "rules": {}}
    for s in gt["scenarios"]:
        mine = [i for i in incidents if i["severity"] in HIGH and attribute(i, [s]) is s]
        mine.sort(key=lambda i: (-HIGH.index(i["severity"]), -len(matches(i["entities"], s["indicators"])),
                                 -len(i["finding_ids"]), i["incident_id"]))
        entry = {"detected": bool(mine), "severity": mine[0]["severity"] if mine else None,
                 "indicators": sorted(matches(mine[0]["entities"], s["indicators"])) if mine else []}
        if mine:
            by_id = {f["finding_id"]: f for f in load_findings_raw(ws)}
            events = [by_id[x] for x in mine[0]["finding_ids"]
                      if by_id[x]["window"] != "posture" and by_id[x]["severity"] in HIGH]
            entry["first_event_finding_detected_at"] = min((f["detected_at"] for f in events), default=None)
            entry["first_event_finding_rule"] = min(events, key=lambda f: (f["detected_at"], f["rule_id"]))["rule_id"] if events else None
            accounts = accounts_of(engine, incident_requests(engine, ws, mine[0]["incident_id"]))
            p, r = pr(accounts, s["account_set"])
            entry.update(scope_precision=round(p, 4), scope_recall=round(r, 4),
                         incident=mine[0]["incident_id"], rules=mine[0].get("rule_ids"), incidents_naming_it=len(mine))
        out["scenarios"][s["name"]] = entry
    for i in incidents:
        if i["severity"] in HIGH and attribute(i, gt["scenarios"]) is None:
            out["unexplained_high"].append(i["title"])
    every = set().union(*(s["account_set"] for s in gt["scenarios"]))
    findings = load_findings_raw(ws)
    for rule_id in sorted({f["rule_id"] for f in findings}):
        mine = [f for f in findings if f["rule_id"] == rule_id and f["severity"] not in ("info", "low")]
        if not mine or mine[0]["window"] == "posture":
            continue
        accounts = accounts_of(engine, findings_requests(engine, mine, workspace=ws))
        if not accounts:
            continue
        precision = len(accounts & every) / len(accounts)
        recall = max(len(accounts & s["account_set"]) / len(s["account_set"]) for s in gt["scenarios"])
        out["rules"][rule_id] = {"findings": len(mine), "accounts": len(accounts),
                                 "precision": round(precision, 4), "best_recall": round(recall, 4)}
    engine.close()
    return out


def daily(ws, sim: Path, withhold: tuple) -> dict:
    """Ingest one day at a time and detect after each; the first day each scenario is named."""
    from custodes.detect.run import detect
    from custodes.detect.store import load_incidents

    gt = truth_of(sim)
    load_reference(ws, sim, withhold)
    days = sorted(p.stem for p in (sim / "access").glob("*.parquet"))
    first: dict[str, str] = {}
    timings = []
    for n, day in enumerate(days):
        load_events(ws, sim, withhold, slice(n, n + 1))
        started = time.perf_counter()
        detect(ws)
        timings.append(time.perf_counter() - started)
        for i in load_incidents(ws):
            s = attribute(i, gt["scenarios"]) if i["severity"] in HIGH else None
            if s and s["name"] not in first:
                first[s["name"]] = day
    scored = score(ws, sim)["scenarios"]
    return {
        s["name"]: {"start_day": s["start"][:10], "named_on": first.get(s["name"]),
                    "first_high_event_finding_at": scored[s["name"]].get("first_event_finding_detected_at"),
                    "by_rule": scored[s["name"]].get("first_event_finding_rule"),
                    "days_late": (None if s["name"] not in first else
                                  (time.strptime(first[s["name"]], "%Y-%m-%d").tm_yday
                                   - time.strptime(s["start"][:10], "%Y-%m-%d").tm_yday))}
        for s in gt["scenarios"]
    } | {"_run_seconds": {"median": round(sorted(timings)[len(timings) // 2], 2), "max": round(max(timings), 2)}}


def _replay():
    """This checkout's slicing helper (numpy and pyarrow only), whatever code is measured."""
    path = Path(__file__).resolve().parent.parent / "src" / "custodes" / "detect" / "replay.py"
    spec = importlib.util.spec_from_file_location("detect_replay", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def hourly(ws, sim: Path, withhold: tuple, issuance_late: bool, start_day: str | None = None,
           days: int | None = None) -> dict:
    """Everything before the day the first scenario starts (or ``start_day``) in one slice,
    then hour slices (for ``days`` days, the rest in one slice); a run after each. Time to
    detect is the run's data time now, as a watch cycle's would be."""
    from custodes.detect.run import detect
    from custodes.detect.store import load_findings, load_incidents
    from custodes.lake import ingest

    replay = _replay()
    gt = truth_of(sim)
    load_reference(ws, sim, withhold)
    first_start = _time(start_day + "T00:00:00Z") if start_day else min(_time(s["start"]) for s in gt["scenarios"])
    day = first_start.replace(hour=0, minute=0, second=0, microsecond=0)
    end = _time(gt["end"]) + dt.timedelta(days=1)  # rows past midnight of the last file
    last = end if days is None else min(end, day + dt.timedelta(days=days))
    cuts = [_time(gt["start"]) - dt.timedelta(days=1)]
    cuts += [day + dt.timedelta(hours=h) for h in range(int((last - day).total_seconds() // 3600) + 1)]
    cuts += [end] if last < end else []
    slices = list(zip(cuts, cuts[1:]))
    names = [n for n in ("access", "issuance") if n not in withhold]
    reached: dict[str, dict] = {s["name"]: {} for s in gt["scenarios"]}
    false_alarms: dict[str, str] = {}
    timings = []
    for k in range(len(slices) + (1 if issuance_late else 0)):
        for name in names:
            n = k - 1 if (issuance_late and name == "issuance") else k
            if 0 <= n < len(slices):
                files = replay.write_slice(sim, name, *slices[n], ws.root.parent / "slices" / f"{k}")
                if files:
                    ingest(ws, name, files)
        started = time.perf_counter()
        summary = detect(ws)
        timings.append(time.perf_counter() - started)
        incidents, findings = load_incidents(ws), load_findings(ws)
        for i in incidents:
            if i["severity"] in HIGH and attribute(i, gt["scenarios"]) is None:
                false_alarms.setdefault(i["incident_id"], f"{summary.now} {i['title']}")
        for s in gt["scenarios"]:
            mine = {i["incident_id"] for i in incidents if attribute(i, [s]) is s}
            # findings about its events (a key outliving its custodian is a warning beforehand)
            for f in findings:
                if f["incident_id"] in mine and f["window"] != "posture" and f["last_seen"] >= s["start"]:
                    reached[s["name"]].setdefault(f["severity"], summary.now)
    out = {}
    for s in gt["scenarios"]:
        got = reached[s["name"]]
        out[s["name"]] = {"start": s["start"]}
        for level in ("medium", *HIGH):
            at = min((t for sev, t in got.items() if SEVERITIES.index(sev) >= SEVERITIES.index(level)), default=None)
            out[s["name"]][f"minutes_to_{level}"] = (
                None if at is None else round((_time(at) - _time(s["start"])).total_seconds() / 60))
    incremental = timings[1:]
    out["_unexplained_high_in_any_run"] = list(false_alarms.values())
    out["_runs"] = len(timings)
    out["_run_seconds"] = {"median": round(sorted(incremental)[len(incremental) // 2], 2),
                           "max": round(max(incremental), 2)}
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--customers", type=int, default=3000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--daily", action="store_true", help="also run day by day (time to detect)")
    ap.add_argument("--hourly", action="store_true", help="also run hour by hour (time to detect within the day)")
    ap.add_argument("--issuance-late", action="store_true", help="with --hourly: issuance one slice after access")
    ap.add_argument("--hourly-from", default=None, metavar="DAY", help="with --hourly: hour slices from this day (YYYY-MM-DD)")
    ap.add_argument("--hourly-days", type=int, default=None, help="with --hourly: hour slices for this many days")
    ap.add_argument("--withhold", nargs="*", default=[], help="datasets to leave out, e.g. issuance")
    ap.add_argument("--keep", default=None, help="keep worlds and workspaces under this directory")
    args = ap.parse_args(argv)

    from custodes.detect.run import detect
    from custodes.simulate import simulate
    from custodes.workspace import Workspace

    base = Path(args.keep or tempfile.mkdtemp(prefix="custodes-quality-"))
    report = {"customers": args.customers, "days": args.days, "withheld": args.withhold, "seeds": {}}
    for seed in args.seeds:
        sim = base / f"world-{seed}"
        if not (sim / "ground_truth.json").exists():
            simulate(sim, customers=args.customers, days=args.days, seed=seed)
        ws_dir = base / f"ws-{seed}-{'-'.join(args.withhold) or 'all'}"
        shutil.rmtree(ws_dir, ignore_errors=True)
        ws = Workspace.open(ws_dir)
        load_reference(ws, sim, args.withhold)
        load_events(ws, sim, args.withhold)
        started = time.perf_counter()
        detect(ws, full=True)
        entry = {"full_run_seconds": round(time.perf_counter() - started, 2), **score(ws, sim)}
        if args.daily:
            ws_daily = Workspace.open(base / f"ws-{seed}-daily-{'-'.join(args.withhold) or 'all'}")
            shutil.rmtree(ws_daily.root, ignore_errors=True)
            entry["daily"] = daily(Workspace.open(ws_daily.root), sim, tuple(args.withhold))
        if args.hourly:
            label = "late" if args.issuance_late else "together"
            ws_hourly = base / f"ws-{seed}-hourly-{label}-{'-'.join(args.withhold) or 'all'}"
            shutil.rmtree(ws_hourly, ignore_errors=True)
            entry["hourly"] = hourly(Workspace.open(ws_hourly / "ws"), sim, tuple(args.withhold),
                                     args.issuance_late, args.hourly_from, args.hourly_days)
        report["seeds"][seed] = entry
        print(json.dumps({seed: entry}, indent=1), file=sys.stderr)
    print(json.dumps(report, indent=1))
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
