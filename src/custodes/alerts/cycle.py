"""One alerting step, for ``custodes watch`` after each detection and ``custodes alerts send``:
keep triage up with detection, enqueue the alerts the incidents now call for, deliver what is due.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
import time
from dataclasses import dataclass, field

from custodes.alerts import config as alerts_config
from custodes.alerts.deliver import attempt, deliver
from custodes.alerts.events import body_of, plan
from custodes.alerts.outbox import Outbox
from custodes.detect.rule import SEVERITY_RANK
from custodes.errors import CustodesError
from custodes.workspace import Workspace


@dataclass
class AlertReport:
    configured: bool = False
    enqueued: list[dict] = field(default_factory=list)   # {alert_id, event, incident_id, severity, sinks}
    delivered: list[dict] = field(default_factory=list)  # {alert_id, sink}
    failed: list[dict] = field(default_factory=list)     # {alert_id, sink, error, attempts, retry_in_s}
    pending: dict[str, int] = field(default_factory=dict)  # per sink, deliveries still to make
    reopened: list[str] = field(default_factory=list)    # incidents new evidence reopened now
    notes: list[str] = field(default_factory=list)
    busy: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """False when a sink failed this cycle (``watch --once`` exits 1; it is retried)."""
        return not self.failed


def process(workspace: Workspace, now: dt.datetime | None = None, *, rng: random.Random | None = None) -> AlertReport:
    """Compare the incidents with what was alerted, enqueue new alerts in the outbox (one
    transaction), then attempt every delivery that is due. ``now`` is the wall clock (UTC)."""
    from custodes import triage
    from custodes.detect.store import load_findings_raw, load_incidents_raw

    started = time.perf_counter()
    now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    report = AlertReport()
    incidents, findings = load_incidents_raw(workspace), load_findings_raw(workspace)
    views, report.reopened = triage.sync(workspace, incidents, findings, now)
    config = alerts_config.load(workspace)
    if config is None or not config.sinks:
        report.notes.append("no alert sinks are configured (alerts.sinks in custodes.yaml): nothing sent")
        report.seconds = time.perf_counter() - started
        return report
    report.configured = True
    by_id = {f["finding_id"]: f for f in findings}
    stamp = now.timestamp()
    sinks = config.named_sinks()
    console_url = alerts_config.console_url(workspace)
    with Outbox.open(workspace) as box:
        with box.transaction():
            todo = plan(incidents, by_id, views, box.memories(), threshold=config.lowest_threshold(),
                        update_every=config.update_every_seconds, now=stamp, console_url=console_url)
            items = [(a, body_of(a), _sinks_for(a, sinks, config)) for a in todo.alerts]
            fresh = set(box.enqueue(items, todo.memories, stamp))
        report.enqueued = [{k: a[k] for k in ("alert_id", "event", "incident_id", "severity")} | {"sinks": s}
                           for a, _b, s in items if a["alert_id"] in fresh]
        outcome = deliver(workspace, box, config, stamp, rng)
        report.delivered, report.failed, report.busy = outcome.delivered, outcome.failed, outcome.busy
        report.notes += outcome.notes
        report.pending = box.depth()
    report.seconds = time.perf_counter() - started
    return report


def _sinks_for(alert: dict, sinks: dict, config) -> list[str]:
    rank = SEVERITY_RANK[alert["severity"]]
    return [name for name, s in sinks.items() if rank >= SEVERITY_RANK[config.threshold(s)]]


def send_test(workspace: Workspace, only: str | None = None, now: dt.datetime | None = None) -> list[dict]:
    """Send one test alert straight through each sink (or the one named ``only``), outside the
    outbox: ``[{"sink", "type", "ok", "error"}]``. The alert's ``event`` is ``test``."""
    config = alerts_config.load(workspace)
    sinks = config.named_sinks() if config else {}
    if only is not None:
        if only not in sinks:
            raise CustodesError(f"no alert sink named {only!r} (configured: {', '.join(sinks) or 'none'})")
        sinks = {only: sinks[only]}
    if not sinks:
        raise CustodesError(f"no alert sinks configured in {workspace.config_path} (alerts.sinks)")
    now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    alert = {"alert_id": f"a-test-{secrets.token_hex(8)}", "event": "test", "incident_id": None,
             "severity": "info", "title": "custodes test alert", "first_seen": stamp, "last_seen": stamp,
             "detected_at": stamp, "rule_ids": [], "entities": {}, "evidence": {"requests": 0, "accounts": 0}}
    body = body_of(alert)
    results = []
    for name, sink in sinks.items():
        error = attempt(sink, body)
        results.append({"sink": name, "type": sink.type, "ok": error is None, "error": error,
                        "alert_id": alert["alert_id"]})
    return results
