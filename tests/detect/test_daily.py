"""prior_max: the most a group reached on any of the N days before, the baseline of two rules."""

from __future__ import annotations

import pyarrow as pa

from custodes.detect.daily import prior_max
from custodes.engine import connect


def test_prior_max_looks_back_n_days_per_group_never_at_the_day_itself():
    engine = connect(None, "duckdb")
    daily = engine.register("daily", pa.table({
        "day": [10, 11, 12, 26, 27, 12],
        "asn": [1, 1, 1, 1, 1, 2],
        "accounts": [5, 3, 9, 1, 100, 4],
    }))
    rows = engine.to_arrow(prior_max(daily, "asn", "accounts", 14).order_by(["asn", "day"])).to_pylist()
    assert [(r["asn"], r["day"], r["accounts"], r["baseline"]) for r in rows] == [
        (1, 10, 5, 0),    # no earlier day: no baseline
        (1, 11, 3, 5),
        (1, 12, 9, 5),    # its own 9 is not its baseline
        (1, 26, 1, 9),    # day 12 is 14 days back: still in
        (1, 27, 100, 1),  # day 12 is 15 days back: out
        (2, 12, 4, 0),    # another group's days do not count
    ]
