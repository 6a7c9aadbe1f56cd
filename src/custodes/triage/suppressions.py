"""Suppressions: a rule, or an entity value, silenced for a while, with a reason.

A suppression holds from its creation until its expiry (wall-clock time: it is a person's
decision about the coming days, and data time can be pushed forward by a single forged log
line) or until it is lifted. An incident is suppressed when *every* one of its findings is
covered by an active suppression, by its rule or by one of its entity values: silencing the
office's NAT address must not silence a forgery that also used that address once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Suppression:
    suppression_id: str
    rule_id: str | None
    entity_key: str | None
    entity_value: str | None
    reason: str
    created_at: dt.datetime
    created_by: str
    expires_at: dt.datetime
    lifted_at: dt.datetime | None = None
    lifted_by: str | None = None

    def active(self, now: dt.datetime) -> bool:
        return self.lifted_at is None and now < self.expires_at

    def covers(self, finding: dict) -> bool:
        if self.rule_id is not None:
            return finding.get("rule_id") == self.rule_id
        return self.entity_value in ((finding.get("entities") or {}).get(self.entity_key) or [])

    @property
    def what(self) -> str:
        return f"rule {self.rule_id}" if self.rule_id else f"{self.entity_key}={self.entity_value}"


def matching(found: list[dict], suppressions: list[Suppression], now: dt.datetime) -> list[str]:
    """Ids of the active suppressions that together cover every finding; empty when any
    finding is left uncovered (the incident alerts)."""
    live = [s for s in suppressions if s.active(now)]
    used: list[str] = []
    for finding in found:
        covering = [s.suppression_id for s in live if s.covers(finding)]
        if not covering:
            return []
        used += [c for c in covering if c not in used]
    return used if found else []
