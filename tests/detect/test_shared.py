"""The run cache that lets rules share one expensive intermediate result: reused only while it
covers what is asked (same data time, same input tables, early enough days)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from custodes.detect.rule import UTC, Context
from custodes.detect.shared import RunCache

NOW = dt.datetime(2025, 4, 10, tzinfo=UTC)


def _ctx(engine, since_day=None, now=NOW):
    since = None if since_day is None else dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(days=since_day)
    return Context(engine, now, since, available=frozenset({"access"}))


def _engine():
    from custodes.engine import connect

    engine = connect(None, "duckdb")
    engine.register("access", pa.table({"x": [1]}))
    return engine


def test_reused_for_later_windows_rebuilt_for_earlier_ones_and_new_data():
    engine = _engine()
    cache = RunCache(("access",), margin_days=14)
    builds = []

    def get(ctx, needed=None):
        return cache.get(ctx, lambda: builds.append(ctx.since_day) or len(builds), needed)

    assert get(_ctx(engine, 100)) == 1          # built: serves days from 86
    assert get(_ctx(engine, 105)) == 1          # a later window: reused
    assert get(_ctx(engine, 90)) == 1           # within the margin: reused
    assert get(_ctx(engine, 95), 81) == 2       # needs day 81: rebuilt from 95 - 14
    with pytest.raises(ValueError):
        get(_ctx(engine, 100), 70)              # more than a build for that window computes
    assert get(_ctx(engine, None)) == 3         # every day: rebuilt
    assert get(_ctx(engine, 50)) == 3           # everything is covered by "every day"
    assert get(_ctx(engine, 50, NOW + dt.timedelta(hours=1))) == 4  # another data time
    engine.register("access", pa.table({"x": [2]}))
    assert get(_ctx(engine, 50, NOW + dt.timedelta(hours=1))) == 5  # new input table
    assert builds == [100, 95, None, 50, 50]
