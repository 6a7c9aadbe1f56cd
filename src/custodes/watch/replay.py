"""A simulated world replayed through ``custodes watch``, slice by slice: what ``custodes demo``
shows and ``bench/bench_watch.py`` measures.

The simulator writes one file per day and dataset. :class:`Feed` cuts them at any time T: each
step writes, per event dataset, one file holding the rows of the day files not written yet
whose time is before T (every row of a day file once T has passed its day, so the late events
a day file holds arrive with it, as late events do). Watch's sources point at the feed
directory; each step is followed by one watch cycle.

:func:`replay` chooses the steps: the history before the first scenario in one slice; each
scenario from the hour it starts in one-hour slices (for ``hours`` hours, or until it alerted),
then day by day until it alerted; the quiet stretches between in one slice each. After each
cycle it notes, per scenario, the first alert at high or critical that names it (the
simulator's ground truth says which incidents name which scenario), with the data time of
that cycle: when it would have reached a person.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from custodes.detect.replay import day_files, delivered
from custodes.progress import QUIET, Bar
from custodes.simulate.reference import REFERENCE_FILES
from custodes.timefmt import iso, parse_iso
from custodes.workspace import Workspace, private_dir

EVENT_DATASETS = ("access", "issuance")
HIGH = ("high", "critical")


class Feed:
    """Writes a world's event rows into ``feed_dir/<dataset>/`` as they are delivered
    (:func:`custodes.detect.replay.delivered`: at their time, clipped to their file's day), up to
    a time, once each.

    How far it fed is kept in ``feed_dir/feed.json`` (with the world's ground truth digest), so
    a second replay of the same world into the same place writes nothing again: the lake would
    load differently cut rows a second time."""

    def __init__(self, sim_dir: Path, feed_dir: Path):
        self.sim_dir, self.feed_dir = Path(sim_dir), Path(feed_dir)
        self.world = hashlib.sha256((self.sim_dir / "ground_truth.json").read_bytes()).hexdigest()
        days = day_files(self.sim_dir, "access")
        self.start, self.end = _day_of(days[0]), _day_of(days[-1]) + dt.timedelta(days=1)
        self.fed, self.steps = self.start, 0  # every row delivered before ``fed`` is written
        self._load()

    @property
    def _state(self) -> Path:
        return self.feed_dir / "feed.json"

    def _load(self) -> None:
        if not self._state.exists():
            return
        saved = json.loads(self._state.read_text())
        if saved.get("world") != self.world:  # another world: start the feed over
            shutil.rmtree(self.feed_dir)
            return
        self.steps, self.fed = saved["steps"], parse_iso(saved["fed"])

    def _save(self) -> None:
        from custodes.workspace import atomic_write_bytes

        private_dir(self.feed_dir)
        atomic_write_bytes(self._state, json.dumps({"world": self.world, "steps": self.steps,
                                                    "fed": iso(self.fed)}).encode())

    @property
    def complete(self) -> bool:
        return self.fed >= self.end

    def until(self, t: dt.datetime) -> dict[str, int]:
        """Write every row delivered from where the feed is up to ``t``; rows written per dataset."""
        out = {d: 0 for d in EVENT_DATASETS}
        if t <= self.fed:
            return out
        self.steps += 1
        for dataset in EVENT_DATASETS:
            parts = [rows for f in day_files(self.sim_dir, dataset)
                     if (rows := delivered(f, self.fed, t)) is not None]
            out[dataset] = sum(p.num_rows for p in parts)
            if parts:
                _write(pa.concat_tables(parts),
                       self.feed_dir / dataset / f"{self.steps:05d}-{t.strftime('%Y%m%dT%H%M')}.parquet")
        self.fed = t
        self._save()  # after the files: a crash in between writes their rows again
        return out


def _day_of(f: Path) -> dt.datetime:
    return parse_iso(f.stem, str(f), date_ok=True)


def _write(table: pa.Table, path: Path) -> None:
    from custodes.simulate.writer import write_parquet

    private_dir(path.parent)
    write_parquet(table, path)


def sources(sim_dir: Path, feed_dir: Path) -> list[dict]:
    """``sources:`` for a replay: the feed's event folders and the world's reference files,
    every file complete when it appears (written hidden, then renamed), so none waits."""
    out = [{"dataset": d, "path": str(Path(feed_dir) / d) + "/", "quiet_seconds": 0} for d in EVENT_DATASETS]
    out += [{"dataset": dataset, "path": str(Path(sim_dir) / name), "quiet_seconds": 0}
            for name, (dataset, _) in REFERENCE_FILES.items()]
    return out


def configuration(sim_dir: Path, feed_dir: Path, alerts_file: Path) -> dict:
    """custodes.yaml for a replay: its sources, and alerts to a JSON Lines file. A replay runs
    days of data time in minutes of wall clock, so the hour between two ``updated`` alerts
    (wall clock, docs/alerts.md) is set to none."""
    return {"sources": sources(sim_dir, feed_dir),
            "alerts": {"update_every_seconds": 0, "sinks": [{"type": "file", "path": str(alerts_file)}]}}


# The replay -------------------------------------------------------------------------------------
@dataclass
class FirstAlert:
    scenario: str
    start: str
    alert_at: str | None = None  # the end of the slice whose cycle sent it: the platform's time
    severity: str | None = None
    incident_id: str | None = None
    event: str | None = None
    warned_at: str | None = None  # an alert naming it before it began (posture)
    data_time: str | None = None  # detection's data time in that cycle
    warning: str | None = None

    @property
    def delay(self) -> dt.timedelta | None:
        return parse_iso(self.alert_at) - parse_iso(self.start) if self.alert_at else None


@dataclass
class Step:
    until: str
    mode: str  # history | hour | day | jump | rest
    rows: dict[str, int]
    data_time: str | None
    seconds: float
    ok: bool
    alerts: list[dict] = field(default_factory=list)


@dataclass
class Timeline:
    first: dict[str, FirstAlert]
    steps: list[Step] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"first": {k: {**v.__dict__, "delay_seconds": v.delay.total_seconds() if v.delay else None}
                          for k, v in self.first.items()},
                "steps": [s.__dict__ for s in self.steps]}

    def save(self, path: Path) -> None:
        from custodes.workspace import atomic_write_bytes

        atomic_write_bytes(path, json.dumps(self.to_dict(), indent=1).encode())

    @classmethod
    def load(cls, path: Path, scenarios: list[dict]) -> Timeline:
        first = {s["name"]: FirstAlert(s["name"], s["start"]) for s in scenarios}
        if path.exists():
            for name, saved in json.loads(path.read_text())["first"].items():
                if name in first:
                    saved.pop("delay_seconds", None)
                    first[name] = FirstAlert(**saved)
        return cls(first)


def replay(workspace: Workspace, sim_dir: Path, feed_dir: Path, *, hours: int = 6,
           cycle: Callable | None = None, on_step: Callable[[Step], None] | None = None,
           progress: Bar = QUIET) -> Timeline:
    """Feed the world through watch cycles (``cycle(workspace) -> CycleReport``, default
    :func:`custodes.watch.run_cycle`); see the module docstring for the steps. ``progress`` is
    told the hours of data time fed, after each cycle."""
    import time

    from custodes.detect.truth import load_truth
    from custodes.watch import run_cycle

    cycle = cycle or run_cycle
    truth = load_truth(sim_dir)
    scenarios = sorted(truth["scenarios"], key=lambda s: s["start"])
    feed = Feed(sim_dir, feed_dir)
    saved = Path(feed_dir) / "timeline.json"
    timeline = Timeline.load(saved, scenarios)
    fed = feed.end if feed.complete else feed.start  # a replay done before: one cycle, for anything left
    if fed == feed.end:
        report = cycle(workspace)
        timeline.steps.append(Step(iso(fed), "again", {d: 0 for d in EVENT_DATASETS}, report.detect.get("now"),
                                   report.seconds, report.ok))
        return timeline
    progress.start(_hours(feed.end - feed.start))
    while fed < feed.end:
        progress.to(_hours(fed - feed.start), f"cycle {len(timeline.steps) + 1}: data up to {iso(fed)}")
        fed, mode = next_step(fed, feed.end, scenarios, timeline.first, hours)
        mode = "history" if not timeline.steps and mode == "jump" else mode
        began = time.perf_counter()
        rows = feed.until(fed)
        report = cycle(workspace)
        step = Step(iso(fed), mode, rows, report.detect.get("now"), time.perf_counter() - began, report.ok)
        step.alerts = _note_alerts(workspace, report, scenarios, timeline.first, step)
        timeline.steps.append(step)
        timeline.save(saved)
        progress.to(_hours(fed - feed.start))
        if on_step:
            on_step(step)
    return timeline


def _hours(span: dt.timedelta) -> float:
    return span.total_seconds() / 3600


def next_step(fed: dt.datetime, end: dt.datetime, scenarios: list[dict], first: dict, hours: int
              ) -> tuple[dt.datetime, str]:
    """Where the next slice ends, and why."""
    waiting = [s for s in scenarios if first[s["name"]].alert_at is None]  # posture warnings do not count
    for s in waiting:
        start = _hour(parse_iso(s["start"]))
        if start <= fed < parse_iso(s["start"]) + dt.timedelta(hours=hours):
            return min(fed + dt.timedelta(hours=1), end), "hour"
    if any(parse_iso(s["start"]) < fed for s in waiting):
        midnight = fed.replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
        return min(midnight, end), "day"
    upcoming = [_hour(parse_iso(s["start"])) for s in waiting if _hour(parse_iso(s["start"])) > fed]
    if upcoming:
        return min(upcoming), "jump"
    return end, "rest"


def _hour(t: dt.datetime) -> dt.datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def _note_alerts(workspace: Workspace, report, scenarios: list[dict], first: dict, step: Step) -> list[dict]:
    """The alerts this cycle enqueued, with the scenario each names. Per scenario, the first at
    high or critical whose incident holds evidence of the scenario's activity (an event finding
    naming it, seen after it began) is kept in ``first``, at the time of the slice; an alert
    before that (a posture finding: the key's custodian left, say) is kept as a warning."""
    from custodes.detect.store import load_findings_raw, load_incidents_raw
    from custodes.detect.truth import attribute

    enqueued = report.alerts.get("enqueued") or []
    if not enqueued:
        return []
    incidents = {i["incident_id"]: i for i in load_incidents_raw(workspace)}
    findings = {f["finding_id"]: f for f in load_findings_raw(workspace)}
    out = []
    for a in enqueued:
        incident = incidents.get(a["incident_id"])
        named = attribute(incident, scenarios) if incident else None
        out.append({**a, "scenario": named["name"] if named else None})
        if not named or a["severity"] not in HIGH:
            continue
        mine = first[named["name"]]
        if mine.alert_at is None and _shows_activity(incident, findings, named):
            first[named["name"]] = FirstAlert(named["name"], named["start"], step.until, a["severity"],
                                              a["incident_id"], a["event"], mine.warned_at, step.data_time,
                                              mine.warning)
        elif mine.warned_at is None and mine.alert_at is None:
            mine.warned_at, mine.warning = step.until, incident["title"]
    return out


def _shows_activity(incident: dict, findings: dict, scenario: dict) -> bool:
    from custodes.detect.truth import attribute

    for fid in incident["finding_ids"]:
        f = findings.get(fid)
        if f and f.get("window") != "posture" and f["last_seen"] >= scenario["start"] \
                and attribute(f, [scenario]) is scenario:
            return True
    return False
