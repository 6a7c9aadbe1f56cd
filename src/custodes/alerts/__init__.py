"""Alerts: an outbox that never loses one, and sinks that reach people (docs/alerts.md).

``process(workspace, now=None) -> AlertReport`` is the one call ``custodes watch`` makes after
each detection. Imported on first use, so that commands which only read triage stay light."""

from __future__ import annotations

__all__ = ["AlertReport", "process"]


def __getattr__(name: str):
    if name in __all__:
        from custodes.alerts import cycle

        return getattr(cycle, name)
    raise AttributeError(f"module 'custodes.alerts' has no attribute {name!r}")
