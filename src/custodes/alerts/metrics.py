"""Alert and incident metrics for ``/metrics`` (prometheus_client), read from the workspace at
each scrape, so ``custodes watch`` and ``custodes serve`` export the same numbers and they
survive restarts (the tallies are kept in the outbox, not in the process).

    custodes_incidents{severity, state}            gauge: current incidents
    custodes_incidents_suppressed                  gauge: current incidents under a suppression
    custodes_alerts_enqueued_total{event}          counter: alerts ever enqueued
    custodes_alert_deliveries_total{sink, result}  counter: deliveries made (delivered) and attempts failed (failed)
    custodes_alert_outbox_depth{sink}              gauge: deliveries still to make
    custodes_alert_oldest_pending_seconds          gauge: age of the oldest undelivered alert (0: none)

Use: ``register(registry, workspace)`` on the registry the service serves.
"""

from __future__ import annotations

import time

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from custodes.detect.rule import SEVERITIES
from custodes.triage.model import STATES
from custodes.workspace import Workspace


class AlertCollector(Collector):
    def __init__(self, workspace: Workspace, clock=time.time):
        self.workspace = workspace
        self.clock = clock

    def collect(self):
        yield from self._incidents()
        yield from self._outbox()

    def _incidents(self):
        from custodes.detect.store import load_incidents

        counts = {(s, st): 0 for s in SEVERITIES for st in STATES}
        suppressed = 0
        for inc in load_incidents(self.workspace):
            counts[(inc["severity"], inc["state"])] += 1
            suppressed += bool(inc["suppressed"])
        g = GaugeMetricFamily("custodes_incidents", "Current incidents by severity and triage state",
                              labels=["severity", "state"])
        for (severity, state), n in counts.items():
            g.add_metric([severity, state], n)
        yield g
        yield GaugeMetricFamily("custodes_incidents_suppressed", "Current incidents under a suppression",
                                value=suppressed)

    def _outbox(self):
        from custodes.alerts.outbox import Outbox

        enqueued = CounterMetricFamily("custodes_alerts_enqueued", "Alerts enqueued in the outbox", labels=["event"])
        deliveries = CounterMetricFamily("custodes_alert_deliveries",
                                         "Alert deliveries made (delivered) and attempts failed (failed), per sink",
                                         labels=["sink", "result"])
        depth = GaugeMetricFamily("custodes_alert_outbox_depth", "Deliveries still to make, per sink", labels=["sink"])
        oldest = 0.0
        box = Outbox.open_existing(self.workspace)
        if box is not None:
            with box:
                for event, n in sorted(box.events().items()):
                    enqueued.add_metric([event], n)
                for (sink, outcome), n in sorted(box.tallies().items()):
                    deliveries.add_metric([sink, outcome], n)
                for sink, n in sorted(box.depth().items()):
                    depth.add_metric([sink], n)
                first = box.oldest_pending()
                oldest = max(0.0, self.clock() - first) if first is not None else 0.0
        yield enqueued
        yield deliveries
        yield depth
        yield GaugeMetricFamily("custodes_alert_oldest_pending_seconds",
                                "Age of the oldest alert not yet delivered to every sink (0 when none)",
                                value=oldest)


def register(registry: CollectorRegistry, workspace: Workspace) -> AlertCollector:
    collector = AlertCollector(workspace)
    registry.register(collector)
    return collector
