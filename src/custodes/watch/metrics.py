"""``/metrics`` (Prometheus text format, prometheus_client) and ``/healthz`` of ``custodes watch``.

Read from the watch state at each scrape (tallies survive restarts, as the alert metrics do):

    custodes_watch_source_rows_total{source, dataset}         counter: rows loaded
    custodes_watch_source_quarantined_total{source, dataset}  counter: rows quarantined
    custodes_watch_source_files_total{source, dataset}        counter: files that brought rows
    custodes_watch_source_failures_total{source}              counter: failed attempts (a file, a listing)
    custodes_watch_source_up{source}                          gauge: 1 when the last cycle read it without error
    custodes_watch_source_pending_files{source}               gauge: files waiting (still written) or failing
    custodes_watch_source_lag_seconds{source}                 gauge: how long the oldest of them has waited (0: none)
    custodes_watch_source_data_lag_seconds{source}            gauge: wall clock minus the latest event time loaded
    custodes_watch_last_cycle_timestamp_seconds, _ok, _seconds gauges: the last cycle that ended

Measured by this process: ``custodes_watch_cycle_seconds``, ``custodes_watch_detect_seconds``
(histograms), ``custodes_watch_cycles_total{result}``. The incident and alert metrics are
``custodes.alerts.metrics``'s.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Histogram, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from custodes.timefmt import parse_iso
from custodes.watch.state import WatchState
from custodes.workspace import Workspace

BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)


class WatchCollector(Collector):
    def __init__(self, workspace: Workspace, clock=time.time):
        self.workspace = workspace
        self.clock = clock

    def collect(self):
        store = WatchState.open_existing(self.workspace)
        if store is None:
            return
        with store:
            sources, pending, last = store.sources(), store.pending(), store.meta("last_cycle")
        now = self.clock()
        yield from self._tallies(sources)
        yield from self._lags(sources, pending, last, now)
        if last:
            yield GaugeMetricFamily("custodes_watch_last_cycle_timestamp_seconds",
                                    "When the last cycle that ended began (Unix time)", value=last["at"])
            yield GaugeMetricFamily("custodes_watch_last_cycle_ok", "1 when nothing failed in the last cycle",
                                    value=1 if last["ok"] else 0)
            yield GaugeMetricFamily("custodes_watch_last_cycle_seconds", "How long the last cycle took",
                                    value=last["seconds"])

    def _tallies(self, sources: dict):
        families = {key: CounterMetricFamily(f"custodes_watch_source_{key}", text, labels=["source", "dataset"])
                    for key, text in (("rows", "Rows loaded into the lake"),
                                      ("quarantined", "Rows quarantined by validation"),
                                      ("files", "Source files that brought rows"))}
        failures = CounterMetricFamily("custodes_watch_source_failures", "Failed attempts to read a source or a file",
                                       labels=["source"])
        for name, s in sorted(sources.items()):
            for key, family in families.items():
                family.add_metric([name, s["dataset"]], s[key])
            failures.add_metric([name], s["failures"])
        yield from families.values()
        yield failures

    def _lags(self, sources: dict, pending: dict, last: dict | None, now: float):
        up = GaugeMetricFamily("custodes_watch_source_up", "1 when the last cycle read the source without error",
                               labels=["source"])
        files = GaugeMetricFamily("custodes_watch_source_pending_files",
                                  "Files not loaded yet: still being written, or failing", labels=["source"])
        lag = GaugeMetricFamily("custodes_watch_source_lag_seconds",
                                "How long the oldest file not loaded yet has been waiting (0 when none)",
                                labels=["source"])
        data_lag = GaugeMetricFamily("custodes_watch_source_data_lag_seconds",
                                     "Wall clock minus the latest event time loaded from the source",
                                     labels=["source"])
        names = sorted(set(sources) | set(pending) | set((last or {}).get("sources", {})))
        for name in names:
            if last and name in last.get("sources", {}):
                up.add_metric([name], 1 if last["sources"][name] else 0)
            n, oldest = pending.get(name, (0, None))
            files.add_metric([name], n)
            lag.add_metric([name], max(0.0, now - oldest) if oldest is not None else 0.0)
            newest = sources.get(name, {}).get("last_time")
            if newest:
                data_lag.add_metric([name], now - _epoch(newest))
        yield from (up, files, lag, data_lag)


def _epoch(text: str) -> float:
    return parse_iso(text, "watch state: last_time").timestamp()


@dataclass
class Health:
    """What ``/healthz`` says: 200 while cycles run and the last one succeeded; 503 when the
    last cycle failed, or none has ended for ``stalled_after`` seconds."""
    interval: float
    started: float = field(default_factory=time.time)
    last: dict | None = None
    running_since: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def stalled_after(self) -> float:
        return max(3 * self.interval, 1800.0)

    def state(self, now: float | None = None) -> tuple[int, dict]:
        now = time.time() if now is None else now
        with self.lock:
            last, running = self.last, self.running_since
        ended = last["ended"] if last else self.started
        body = {"interval": self.interval, "cycle_running": running is not None, "last_cycle": last}
        if now - ended > self.stalled_after:
            return 503, {"status": "stalled", **body}
        if last is None:
            return 200, {"status": "starting", **body}
        return (200, {"status": "ok", **body}) if last["ok"] else (503, {"status": "failing", **body})

    def begin(self) -> None:
        with self.lock:
            self.running_since = time.time()

    def end(self, report) -> None:
        with self.lock:
            self.running_since = None
            self.last = {"at": report.started_at, "ended": time.time(), "ok": report.ok,
                         "seconds": round(report.seconds, 3),
                         "errors": report.all_errors()}


class Timings:
    """This process's cycle and detection durations."""

    def __init__(self, registry: CollectorRegistry):
        self.cycle = Histogram("custodes_watch_cycle_seconds", "Duration of a watch cycle", buckets=BUCKETS,
                               registry=registry)
        self.detect = Histogram("custodes_watch_detect_seconds", "Duration of the detection in a cycle",
                                buckets=BUCKETS, registry=registry)
        self.cycles = Counter("custodes_watch_cycles", "Cycles run by this process", ["result"], registry=registry)

    def observe(self, report) -> None:
        self.cycle.observe(report.seconds)
        if report.detect.get("ran") and "seconds" in report.detect:
            self.detect.observe(report.detect["seconds"])
        self.cycles.labels("ok" if report.ok else "failed").inc()


def registry_for(workspace: Workspace) -> tuple[CollectorRegistry, Timings]:
    from custodes.alerts import metrics as alert_metrics

    registry = CollectorRegistry()
    registry.register(WatchCollector(workspace))
    alert_metrics.register(registry, workspace)
    return registry, Timings(registry)


# Serving ----------------------------------------------------------------------------------------
def app(registry: CollectorRegistry, health: Health):
    """A WSGI app: ``/metrics``, ``/healthz``, 404 for anything else."""
    metrics = make_wsgi_app(registry)

    def serve(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return metrics(environ, start_response)
        if path == "/healthz":
            status, body = health.state()
            start_response(f"{status} {'OK' if status == 200 else 'Service Unavailable'}",
                           [("Content-Type", "application/json"), ("Cache-Control", "no-store")])
            return [json.dumps(body).encode()]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: /metrics and /healthz only\n"]

    return serve


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:  # scrapes are not log lines
        pass


def parse_address(text: str) -> tuple[str, int]:
    """``PORT`` (loopback), ``HOST:PORT`` or ``[V6]:PORT``."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{text!r}: expected PORT or HOST:PORT")
    return host, int(port)


def start_server(address: tuple[str, int], wsgi_app) -> tuple[WSGIServer, threading.Thread]:
    server_class = _Server6 if ":" in address[0] else _Server
    server = make_server(address[0], address[1], wsgi_app, server_class=server_class, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="custodes-metrics", daemon=True)
    thread.start()
    return server, thread
