"""Intermediate results that several rules of one run share (computed once, served registered).

Some rules stand on the same expensive piece of work: token.unissued and issuance.ledger_gap
on the anti-join of every token request against the ledger; account.new_origin and
source.low_and_slow on the first visits of accounts from networks. A :class:`RunCache` keeps
one such result per engine and hands it to every rule, and to their entity counts and
evidence, as long as it covers what they ask for: the same data time now (and span
waiting for the issuance ledger), the same input tables, and days from at least as early as theirs (results are per day, and a day's result
does not depend on how much earlier data was computed with it).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any


class RunCache:
    """One shared result per engine, reused while it covers the asked-for days.

    A result built for a context whose window starts on day S serves the days from
    ``S - margin_days`` on (the builder computes that much earlier; None: every day)."""

    def __init__(self, datasets: tuple[str, ...], margin_days: int = 0):
        self.datasets = datasets  # the inputs: a re-registered table makes the result stale
        self.margin_days = margin_days
        self._by_engine: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def get(self, ctx, build: Callable[[], Any], needed_from: int | None = None) -> Any:
        """The shared result for ``ctx``, serving days from ``needed_from`` (default: the
        context's first day, ``ctx.since_day``; None: every day)."""
        if needed_from is None:
            needed_from = ctx.since_day
        inputs = tuple(ctx.table(d) if ctx.has(d) else None for d in self.datasets)
        entry = self._by_engine.get(ctx.engine)
        if entry is not None and self._covers(entry, ctx, inputs, needed_from):
            return entry["value"]
        serves = None if ctx.since_day is None else ctx.since_day - self.margin_days
        if serves is not None and (needed_from is None or needed_from < serves):
            raise ValueError(f"a result built for days from {serves} cannot serve days from {needed_from}")
        value = build()
        self._by_engine[ctx.engine] = {"serves_from": serves, "now": (ctx.now, ctx.pending),
                                       "inputs": inputs, "value": value}
        return value

    @staticmethod
    def _covers(entry: dict, ctx, inputs: tuple, needed_from: int | None) -> bool:
        if entry["now"] != (ctx.now, ctx.pending) or len(inputs) != len(entry["inputs"]):
            return False
        if any(a is not b for a, b in zip(inputs, entry["inputs"])):
            return False
        return entry["serves_from"] is None or (needed_from is not None
                                                and entry["serves_from"] <= needed_from)
