"""/metrics for alerts and incidents, in Prometheus text format, from the workspace."""

from __future__ import annotations

import datetime as dt

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from custodes import triage
from custodes.alerts import process
from custodes.alerts.metrics import register

from .conftest import NOW, configure, finding, save


def samples(workspace) -> dict:
    registry = CollectorRegistry()
    register(registry, workspace)
    text = generate_latest(registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def test_metrics_count_incidents_alerts_failures_and_the_outbox(workspace, webhook):
    m = samples(workspace)  # an empty workspace scrapes fine
    assert m[("custodes_alert_oldest_pending_seconds", ())] == 0
    incs = save(workspace, [finding("f-1"), finding("f-2", severity="medium", kid="k-2", src_ip="192.0.2.1")])
    triage.act(workspace, incs[1]["incident_id"], "ack", by="anna", now=NOW)
    configure(workspace, [{"type": "webhook", "url": webhook.url}])
    webhook.secret, webhook.status = None, 503
    process(workspace, NOW)
    m = samples(workspace)
    assert m[("custodes_incidents", (("severity", "critical"), ("state", "new")))] == 1
    assert m[("custodes_incidents", (("severity", "medium"), ("state", "acknowledged")))] == 1
    assert m[("custodes_alerts_enqueued_total", (("event", "opened"),))] == 1
    assert m[("custodes_alert_deliveries_total", (("result", "failed"), ("sink", "webhook")))] == 1
    assert m[("custodes_alert_outbox_depth", (("sink", "webhook"),))] == 1
    assert m[("custodes_alert_oldest_pending_seconds", ())] > 0
    webhook.status = 200
    process(workspace, NOW + dt.timedelta(hours=2))
    m = samples(workspace)
    assert m[("custodes_alert_deliveries_total", (("result", "delivered"), ("sink", "webhook")))] == 1
    assert m.get(("custodes_alert_outbox_depth", (("sink", "webhook"),)), 0) == 0
    assert m[("custodes_alert_oldest_pending_seconds", ())] == 0
