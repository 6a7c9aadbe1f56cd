"""Day numbers of timestamp columns, computed by the engine, fast on both engines.

``unix_micros`` is Spark's name; Ibis (through sqlglot) writes DuckDB's ``epoch_us`` for it.
Both read the stored UTC instant directly, where Ibis's ``epoch_seconds`` on DuckDB first
casts the zoned timestamp to a local one through the session time zone: three times slower,
on every request of every scan. (No ``from __future__ import annotations`` here: Ibis reads
the signature's types.)
"""

import ibis
import ibis.expr.datatypes as dt

from custodes.timefmt import MICROS_PER_DAY, MICROS_PER_HOUR


@ibis.udf.scalar.builtin
def unix_micros(ts: dt.Timestamp(timezone="UTC")) -> dt.int64:
    """Microseconds since 1970-01-01T00:00:00Z."""


def day_number_expr(time: ibis.Expr) -> ibis.Expr:
    """The UTC day number (days since 1970-01-01) of a timestamp column."""
    return (unix_micros(time) // MICROS_PER_DAY).cast("int64")


def hour_number_expr(time: ibis.Expr) -> ibis.Expr:
    """Hours since 1970-01-01T00:00Z of a timestamp column."""
    return (unix_micros(time) // MICROS_PER_HOUR).cast("int64")


def hour_of_day_expr(time: ibis.Expr) -> ibis.Expr:
    """The UTC hour of the day (0-23) of a timestamp column."""
    return hour_number_expr(time) % 24
