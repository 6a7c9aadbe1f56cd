"""Alerts: an outbox that never loses one, and sinks that reach people (docs/alerts.md).

``process(workspace, now=None) -> AlertReport`` is the one call ``custodes watch`` makes after
each detection."""

from custodes.alerts.process import AlertReport, process  # noqa: F401
