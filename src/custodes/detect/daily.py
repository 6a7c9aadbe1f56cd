"""Per-day summaries of the look-back a rule compares a day with, served from the day cache.

A rule's baseline reads many days (14 of a network's accounts, of a principal's exports, of
staff's reads; a week of hours with traffic), and each day's summary depends on that day's rows
only. :func:`days_from` returns the summary rows of the days from ``first`` on: the days before
the run's ``since`` from the workspace's day cache (daycache.py), the others computed from the
lake (or the run's copy of recent rows) and stored for the next runs.
"""

from __future__ import annotations

from collections.abc import Callable

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from custodes.detect.rule import Context, day_number, day_start


def days_from(ctx: Context, name: str, first: int | None,
              summarize: Callable[[ibis.Table], ibis.Table]) -> pa.Table:
    """Summary rows (with a ``day`` column) of the days from ``first`` (None: every day):
    ``summarize`` turns access rows into them, one day never mixed with another."""
    cached, fresh_from = cached_days(ctx, name, first)
    rows = ctx.rows_from("access", None if fresh_from is None else day_start(fresh_from))
    fresh = ctx.engine.to_arrow(summarize(rows))
    store_days(ctx, name, fresh, fresh_from)
    return fresh if cached is None else pa.concat_tables([cached, fresh.cast(cached.schema)])


def cached_days(ctx: Context, name: str, first: int | None) -> tuple[pa.Table | None, int | None]:
    """(the cached days from ``first`` up to the day before since, the first day to compute).
    Nothing is cached for a run over every day, or without a cache."""
    if ctx.cache is None or first is None or ctx.since_day is None:
        return None, first
    return ctx.cache.read(name, first, ctx.since_day - 1)


def store_days(ctx: Context, name: str, table: pa.Table, first: int | None) -> None:
    """Keep the days computed from ``first`` (None: from the first day of data) for the next
    runs; the last one, still arriving, too: a run recomputes from it anyway."""
    if ctx.cache is None:
        return
    if first is None:
        first = ctx.first_day if table.num_rows == 0 else min(ctx.first_day, pc.min(table["day"]).as_py())
    ctx.cache.write(name, table, first, day_number(ctx.now))


def prior_max(daily: ibis.Table, by: str, value: str, days: int) -> ibis.Table:
    """``daily`` (one row per ``day`` and ``by``) with ``baseline``: the most ``value`` reached
    for the same ``by`` on any of the ``days`` days before (0 without such a day). A self-join on
    the few per-day rows, never on the events."""
    prev = daily.select(p_by=daily[by], p_day=daily.day, p_value=daily[value])
    seen = daily.inner_join(prev, [daily[by] == prev.p_by, prev.p_day < daily.day,
                                   prev.p_day >= daily.day - days])
    base = seen.group_by(["day", by]).aggregate(baseline=seen.p_value.max())
    joined = daily.left_join(base, ["day", by])
    return joined.select(*daily.columns, baseline=base.baseline.fill_null(0))
