"""``/metrics`` of ``custodes guard serve`` (Prometheus text format, prometheus_client):

    custodes_guard_decisions_total{reason}   counter: decisions, by verdict reason (ok, not_issued, expired, ...)
    custodes_guard_ledger_seconds            histogram: time of each ledger question (check, check_many)

Per process: with ``--workers N`` each worker counts its own (a scrape reaches one of them).
"""

from __future__ import annotations

from typing import Any, cast

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from custodes.guard.ledger.base import Ledger

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class GuardMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.decisions = Counter("custodes_guard_decisions", "Decisions of the guard, by verdict reason",
                                 ["reason"], registry=self.registry)
        self.ledger = Histogram("custodes_guard_ledger_seconds", "Time of each ledger question",
                                buckets=BUCKETS, registry=self.registry)

    def timed(self, ledger: Ledger | None) -> Ledger | None:
        """``ledger`` with its questions timed (everything else passes through: a stand-in the
        verifier uses as the ledger itself)."""
        return ledger if ledger is None else cast(Ledger, _TimedLedger(ledger, self.ledger))

    def text(self) -> bytes:
        return generate_latest(self.registry)


class _TimedLedger:
    def __init__(self, ledger: Ledger, histogram: Histogram) -> None:
        self._ledger, self._histogram = ledger, histogram

    def check(self, *args: Any, **kwargs: Any) -> str | None:
        with self._histogram.time():
            return self._ledger.check(*args, **kwargs)

    def check_many(self, *args: Any, **kwargs: Any) -> list[str | None]:
        with self._histogram.time():
            return self._ledger.check_many(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ledger, name)
