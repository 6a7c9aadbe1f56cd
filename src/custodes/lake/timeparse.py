"""Timestamps as DuckDB SQL: RFC 3339 / ISO 8601 with a zone, or integer epoch, always UTC.

Strict by design: a time string without a zone is ambiguous (whose local time?), so it is a
quarantine reason (``time_no_zone``), never silently read as UTC. Integer epochs are read by
magnitude: below 1e11 seconds (up to year 5138), below 1e14 milliseconds, below 1e17
microseconds, else nanoseconds. Every expression here is vectorised: no per-row Python.
"""

from __future__ import annotations

import pyarrow as pa

ISO_WITH_ZONE = r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}(:?\d{2})?)"
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
            branches.append(f"WHEN abs({n_sql}) < {limit} THEN {expr}")
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
