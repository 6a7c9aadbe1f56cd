"""Timestamps as DuckDB SQL: RFC 3339 / ISO 8601 with a zone, or integer epoch, always UTC.

Strict by design: a time string without a zone is ambiguous (whose local time?), so it is a
quarantine reason (``time_no_zone``), never silently read as UTC; a zone offset beyond ±14:00
(the widest any place uses) is ``bad_time``, not a shift by days. Integer epochs are read by
magnitude: below 1e11 seconds (up to year 5138), below 1e14 milliseconds, below 1e17
microseconds, else nanoseconds. Every expression here is vectorised: no per-row Python.

A time that parses can still be impossible for its column: ``TimeWindow`` says which times a
column may hold (``time_out_of_range`` outside it), so that one row dated 2200 cannot become
detection's data-time now.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa

from custodes.errors import CustodesError
from custodes.timefmt import iso, parse_iso

#: A zone offset: Z, or ±hh[:mm] up to ±14:00 (Kiribati, UTC+14, is the widest in use).
ZONE = r"([Zz]|[+-]((0\d|1[0-3])(:?[0-5]\d)?|14(:?00)?))"
ISO_WITH_ZONE = r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?" + ZONE
ISO_NO_ZONE = r"\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?"
EPOCH_INT = r"-?\d{1,19}"

# Thresholds on |n| that decide the unit of an integer epoch.
_EPOCH_UNITS = ((10**11, 1_000_000, "*"), (10**14, 1_000, "*"), (10**17, 1, "*"), (None, 1_000, "//"))


def epoch_to_ts(n_sql: str) -> str:
    """TIMESTAMPTZ from an integer epoch (BIGINT expression), unit chosen by magnitude."""
    branches = []
    for limit, factor, op in _EPOCH_UNITS:
        micros = f"({n_sql}) {op} {factor}"
        expr = f"CAST(make_timestamp(CAST({micros} AS BIGINT)) AS TIMESTAMPTZ)"
        if limit is None:
            branches.append(f"ELSE {expr}")
        else:
            # (not abs(): abs(-2^63) overflows, and one such value failed the whole batch; BETWEEN
            # reads its operand once, where two comparisons cast it twice)
            branches.append(f"WHEN ({n_sql}) BETWEEN -{limit - 1} AND {limit - 1} THEN {expr}")
    return "CASE " + " ".join(branches) + " END"


def text_to_ts(v: str) -> str:
    """TIMESTAMPTZ from a VARCHAR expression, NULL where it is not a zoned time or an epoch."""
    return (
        f"CASE WHEN regexp_full_match({v}, '{ISO_WITH_ZONE}') THEN "
        f"coalesce(TRY_CAST({v} AS TIMESTAMPTZ), TRY_CAST(upper({v}) AS TIMESTAMPTZ)) "
        f"WHEN regexp_full_match({v}, '{EPOCH_INT}') THEN "
        f"{epoch_to_ts(f'TRY_CAST({v} AS BIGINT)')} END"
    )


def text_time_reason(v: str) -> str:
    """Why a non-null VARCHAR did not parse as a time: the quarantine reason."""
    return f"CASE WHEN regexp_full_match({v}, '{ISO_NO_ZONE}') THEN 'time_no_zone' ELSE 'bad_time' END"


def typed_to_ts(v: str, source_type: pa.DataType | None) -> tuple[str, str]:
    """(TIMESTAMPTZ expression, reason expression) for a source column of ``source_type``.

    ``None`` means text (CSV, JSON). Zoned timestamps pass through; zone-less ones are
    refused; integers are epochs; anything else is read as its text.
    """
    if source_type is None or pa.types.is_string(source_type) or pa.types.is_large_string(source_type) \
            or pa.types.is_string_view(source_type):
        return text_to_ts(v), text_time_reason(v)
    if pa.types.is_timestamp(source_type):
        if source_type.tz is not None:
            return f"CAST({v} AS TIMESTAMPTZ)", "'bad_time'"
        return "CAST(NULL AS TIMESTAMPTZ)", "'time_no_zone'"
    if pa.types.is_integer(source_type):
        return epoch_to_ts(f"CAST({v} AS BIGINT)"), "'bad_time'"
    if pa.types.is_date(source_type):
        return "CAST(NULL AS TIMESTAMPTZ)", "'time_no_zone'"
    text = f"CAST({v} AS VARCHAR)"
    return text_to_ts(text), text_time_reason(text)


# The window of possible times ------------------------------------------------------------------
#: Times of something that had happened when it was logged: an event, a token's issue, a key's or
#: a credential's creation, a custody grant. Later than the ingest's wall clock (plus ``ahead``)
#: is impossible.
LOGGED = frozenset({
    ("access", "time"), ("issuance", "time"), ("issuance", "iat"),
    ("credentials", "created_at"), ("keys", "created_at"), ("key_custody", "granted_at"),
})
#: Claims copied from the token of a request: its holder chooses them, and a window would let a
#: forger send its own requests to quarantine, out of detection's sight, by signing an ``iat``
#: of 2200. They are stored as given (never the data-time now; the guard and the rules judge them).
CLAIMS = frozenset({("access", "token_iat"), ("access", "token_exp")})
#: HR dates: people were hired decades before any log, and a roster may hold future hires and
#: leavers; only a date before 1900 is impossible.
HR = frozenset({("workforce", "hired_at"), ("workforce", "terminated_at")})
HR_EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.timezone.utc)
#: Every other time column is scheduled and may lie ahead: expiries (``exp``, ``token_exp``,
#: ``expires_at``), revocations and retirements (rosters and key inventories are exported with
#: future-dated ones, CONTRACT.md §3). They are bounded below only.

DEFAULT_EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
DEFAULT_AHEAD_DAYS = 1.0


@dataclass(frozen=True)
class TimeWindow:
    """Which times each time column may hold (``ingest.time_window`` in custodes.yaml):
    from ``earliest`` on, and, for logged times, up to ``latest`` (the ingest's wall clock plus
    ``ahead_days``). Outside it a row is quarantined as ``time_out_of_range``."""

    earliest: dt.datetime = DEFAULT_EARLIEST
    latest: dt.datetime | None = None

    @classmethod
    def from_setting(cls, setting, now: dt.datetime) -> TimeWindow:
        where = "custodes.yaml: ingest.time_window"
        if setting is None:
            setting = {}
        if not isinstance(setting, dict) or set(setting) - {"earliest", "ahead_days"}:
            raise CustodesError(f"{where}: expected a mapping with earliest (a date) and ahead_days (a number)")
        earliest = _config_time(setting.get("earliest", DEFAULT_EARLIEST), f"{where}.earliest")
        ahead = setting.get("ahead_days", DEFAULT_AHEAD_DAYS)
        if isinstance(ahead, bool) or not isinstance(ahead, (int, float)) or not 0 <= ahead <= 36500:
            raise CustodesError(f"{where}.ahead_days: expected a number of days from 0 to 36500, got {ahead!r}")
        return cls(earliest, now + dt.timedelta(days=ahead))

    def bounds(self, dataset: str, column: str) -> tuple[dt.datetime | None, dt.datetime | None]:
        if (dataset, column) in CLAIMS:
            return None, None
        if (dataset, column) in HR:
            return min(HR_EARLIEST, self.earliest), None
        return self.earliest, self.latest if (dataset, column) in LOGGED else None

    def outside_sql(self, dataset: str, column: str, ts: str) -> str | None:
        """SQL: true where the TIMESTAMPTZ expression ``ts`` lies outside the column's window
        (None: the column has none)."""
        lo, hi = self.bounds(dataset, column)
        tests = ([f"{ts} < {_ts_literal(lo)}"] if lo else []) + ([f"{ts} > {_ts_literal(hi)}"] if hi else [])
        return " OR ".join(tests) or None


def _ts_literal(value: dt.datetime) -> str:
    return f"TIMESTAMPTZ '{iso(value, digits=6)}'"


def _config_time(value, where: str) -> dt.datetime:
    """A date or a zoned time from the configuration (YAML reads an unquoted date as a date)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise CustodesError(f"{where}: a time needs a zone (add Z), got {value.isoformat()}")
        return value.astimezone(dt.timezone.utc)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    if isinstance(value, str):
        return parse_iso(value, where, date_ok=True)
    raise CustodesError(f"{where}: expected a date (2000-01-01) or an RFC 3339 time, got {value!r}")
