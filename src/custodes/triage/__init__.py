"""Triage: incident states (new, acknowledged, resolved, false_positive), assignees, notes and
suppressions, kept across detection re-runs (docs/alerts.md)."""

from custodes.triage.actions import (  # noqa: F401
    ACTIONS, act, annotate, history, lift, suppress, suppressions, sync, views,
)
from custodes.triage.model import CLOSED, STATES  # noqa: F401
