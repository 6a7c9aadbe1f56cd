"""One watch cycle: ingest what is new in every source, detect if anything arrived, alert.

Each source file is its own ingest (its own commit in the lake), recorded in the watch state
right after; a source that fails (an unreadable file, a lake that refuses to ingest because its
seal chain does not verify) is reported and retried next cycle, and the other sources, the
detection and the alerts still run. ``CycleReport.ok`` is False when anything failed:
``custodes watch --once`` exits 1 then.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, field

from custodes.errors import CustodesError
from custodes.watch import config as watch_config
from custodes.watch import pick
from custodes.watch.state import WatchState
from custodes.workspace import Workspace

log = logging.getLogger("custodes.watch")


def _crash_point(name: str) -> None:
    """Fault injection for the kill tests: CUSTODES_WATCH_CRASH_AT=<name> kills this process
    with SIGKILL at that point, exactly as `kill -9` would."""
    if os.environ.get("CUSTODES_WATCH_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class SourceReport:
    name: str
    dataset: str
    files: int = 0          # files ingested this cycle (new content)
    already: int = 0        # files handed to ingest whose content was in the lake already
    rows: int = 0
    quarantined: int = 0
    waiting: int = 0        # files still being written
    deferred: int = 0       # files left for the next cycle (a stop was asked for)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class CycleReport:
    started_at: float
    sources: list[SourceReport] = field(default_factory=list)
    detect: dict = field(default_factory=dict)   # {"ran", "now", "new_findings", "incidents", "seconds", "error"}
    alerts: dict = field(default_factory=dict)   # {"enqueued", "delivered", "failed", "pending", "seconds", "error"}
    errors: list[str] = field(default_factory=list)  # what failed outside a source: the configuration, detect, alerts
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors and all(s.ok for s in self.sources) and not self.alerts.get("failed")

    def all_errors(self) -> list[str]:
        return self.errors + [f"source {s.name}: {e}" for s in self.sources for e in s.errors]

    def to_dict(self) -> dict:
        out = asdict(self)
        out["ok"] = self.ok
        for s, d in zip(self.sources, out["sources"]):
            d["ok"] = s.ok
        return out


def run_cycle(workspace: Workspace, *, now: float | None = None, stop: threading.Event | None = None) -> CycleReport:
    """One cycle. ``now``: the wall clock (tests pass their own); ``stop``: when set during the
    cycle, no further file is started, and the cycle ends with detection and alerts."""
    stop = stop or threading.Event()
    started = time.perf_counter()
    report = CycleReport(started_at=now if now is not None else time.time())
    try:
        sources = watch_config.load(workspace)
    except CustodesError as exc:
        report.errors.append(str(exc))
        log.error("configuration: %s", exc, extra={"event": "config_error"})
        sources = {}
    with WatchState.open(workspace) as state:
        for name, source in sources.items():
            report.sources.append(_ingest_source(workspace, state, name, source, report.started_at, stop))
        _crash_point("before_detect")
        report.detect = _detect(workspace, state)
        _crash_point("before_alerts")
        if report.detect.get("error"):
            report.errors.append(f"detect: {report.detect['error']}")
        report.alerts = _alerts(workspace)
        if report.alerts.get("error"):
            report.errors.append(f"alerts: {report.alerts['error']}")
        report.seconds = time.perf_counter() - started
        state.put_meta("last_cycle", {"at": report.started_at, "ok": report.ok, "seconds": report.seconds,
                                      "errors": report.all_errors(), "sources": {s.name: s.ok for s in report.sources}})
    _log_cycle(report)
    return report


# Sources ----------------------------------------------------------------------------------------
def _ingest_source(workspace: Workspace, state: WatchState, name: str, source, now: float, stop) -> SourceReport:
    began = time.perf_counter()
    report = SourceReport(name, source.dataset)
    try:
        todo = pick.plan(source, name, state.files(source.dataset), now)
    except CustodesError as exc:
        _failed(state, report, source, None, now, str(exc))
        return report
    for c in todo.moved:  # renamed, unchanged since loaded: nothing to read
        state.record_loaded(source.dataset, name, str(c.path), c.seen, seq=c.record.seq,
                            first_seen=c.record.first_seen, since=c.record.since, taken_at=c.record.taken_at)
    for c in todo.ignore:
        log.warning("%s: ignored: cannot tell its format from its name (source %s; give the source a format, "
                    "or a glob that leaves it out)", c.path, name,
                    extra={"event": "file_ignored", "source": name, "path": str(c.path)})
        state.record_other(source.dataset, name, c, "ignored", now)
    for c in todo.wait:
        state.record_other(source.dataset, name, c, "waiting", now)
    report.waiting = len(todo.wait)
    for c in todo.take:
        if stop.is_set():
            report.deferred += 1
            continue
        _take(workspace, state, report, name, source, c, now)
    state.forget(source.dataset, todo.gone)
    report.seconds = time.perf_counter() - began
    if report.files or report.errors:
        log.info("source %s: %d file(s), %d rows loaded, %d quarantined", name, report.files, report.rows,
                 report.quarantined, extra={"event": "source", "source": name, "dataset": source.dataset,
                                            "files": report.files, "rows": report.rows,
                                            "quarantined": report.quarantined, "waiting": report.waiting,
                                            "seconds": round(report.seconds, 3)})
    return report


def _take(workspace: Workspace, state: WatchState, report: SourceReport, name: str, source, c: pick.Candidate,
          now: float) -> None:
    from custodes.lake import ingest

    try:
        result = ingest(workspace, source.dataset, [c.path], fmt=c.format, mapping=source.map)
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the service; it is retried
        message = str(exc) if isinstance(exc, CustodesError) else f"{c.path}: {type(exc).__name__}: {exc}"
        _failed(state, report, source, c, now, message)
        return
    _crash_point("after_ingest")
    done = result.files[0] if result.files else None
    if done is not None and getattr(done, "error", None):  # ingest reports a file it could not read
        _failed(state, report, source, c, now, done.error)  # (its words name the file)
        return
    rows, quarantined = (done.rows, done.quarantined) if done and not done.skipped else (0, 0)
    report.rows += rows
    report.quarantined += quarantined
    if done is None or done.skipped:
        report.already += 1
    else:
        report.files += 1
    state.record_loaded(source.dataset, name, str(c.path), c.seen, seq=done.seq if done else None,
                        first_seen=c.first_seen(now), since=c.since(now), taken_at=now, rows=rows,
                        quarantined=quarantined, last_time=_last_time(workspace, done))


def _last_time(workspace: Workspace, done) -> str | None:
    """The latest event time the ingest stored (its manifest entry), for the data-time lag."""
    from custodes.lake import manifest

    if done is None or done.skipped or done.seq is None or not done.rows:
        return None
    try:
        return manifest.read_entry(manifest.entry_path(workspace, done.seq)).get("last_time")
    except CustodesError:
        return None


def _failed(state: WatchState, report: SourceReport, source, c: pick.Candidate | None, now: float,
            message: str) -> None:
    message = message.splitlines()[0][:500] if message else "failed"
    report.errors.append(message)
    log.error("source %s: %s", report.name, message,
              extra={"event": "source_failed", "source": report.name, "dataset": source.dataset})
    state.record_failed(source.dataset, report.name, c, now, message)


# Detection and alerts ---------------------------------------------------------------------------
def _detect(workspace: Workspace, state: WatchState) -> dict:
    """Incremental detection when the lake holds rows detection has not seen (or the rule set
    changed); nothing otherwise, so a quiet cycle costs no query."""
    from custodes.detect.registry import all_rules
    from custodes.detect.run import detect
    from custodes.detect.state import State, fingerprint
    from custodes.lake import seq_high_water

    began = time.perf_counter()
    try:
        high = seq_high_water(workspace)
        done = State.load(workspace)
        fresh = high > state.meta("detected_through", 0) or done.runs == 0 \
            or done.rules != fingerprint(all_rules(workspace))
        if not fresh:
            return {"ran": False}
        if not _has_access(workspace):
            return {"ran": False, "note": "no access data yet"}
        summary = detect(workspace)
    except Exception as exc:  # noqa: BLE001 - reported, and detection runs again next cycle
        message = str(exc) if isinstance(exc, CustodesError) else f"{type(exc).__name__}: {exc}"
        log.error("detect: %s", message, extra={"event": "detect_failed"})
        return {"ran": True, "error": message.splitlines()[0] if message else "failed",
                "seconds": time.perf_counter() - began}
    state.put_meta("detected_through", high)
    out = {"ran": True, "now": summary.now, "new_findings": summary.new_findings,
           "findings": summary.findings, "incidents": summary.incidents,
           "seconds": time.perf_counter() - began}
    log.info("detect: data time %s, %d new findings, %d incidents (%.2f s)", summary.now, summary.new_findings,
             summary.incidents, out["seconds"], extra={"event": "detect", **out})
    return out


def _has_access(workspace: Workspace) -> bool:
    return next(workspace.dataset_dir("access").rglob("part-*.parquet"), None) is not None


def _alerts(workspace: Workspace) -> dict:
    from custodes.alerts import process

    try:
        report = process(workspace)
    except CustodesError as exc:
        log.error("alerts: %s", exc, extra={"event": "alerts_failed"})
        return {"error": str(exc)}
    for a in report.enqueued:
        log.warning("alert %s: %s incident %s (%s)", a["alert_id"], a["event"], a["incident_id"], a["severity"],
                    extra={"event": "alert", "alert": a})
    for f in report.failed:
        log.error("alert %s: delivery to %s failed: %s (retry in %.0f s)", f["alert_id"], f["sink"], f["error"],
                  f["retry_in_s"], extra={"event": "delivery_failed", "delivery": f})
    return {"configured": report.configured, "enqueued": report.enqueued, "delivered": len(report.delivered),
            "failed": report.failed, "pending": report.pending, "reopened": report.reopened,
            "seconds": report.seconds}


def _log_cycle(report: CycleReport) -> None:
    level = logging.INFO if report.ok else logging.ERROR
    rows = sum(s.rows for s in report.sources)
    log.log(level, "cycle %s in %.2f s: %d rows loaded, %d alert(s) enqueued, %d delivered",
            "ok" if report.ok else "FAILED", report.seconds, rows, len(report.alerts.get("enqueued", [])),
            report.alerts.get("delivered", 0),
            extra={"event": "cycle", "ok": report.ok, "seconds": round(report.seconds, 3), "rows": rows,
                   "errors": report.errors})
