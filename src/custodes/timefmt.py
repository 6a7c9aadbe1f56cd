"""The one clock module: the epoch, microseconds, and times as text (RFC 3339 / ISO 8601).

Every timestamp custodes stores is ``timestamp[us, UTC]``; every time it writes as text is
:func:`iso` (UTC, ``Z``); every time it reads as text goes through :func:`parse_iso`, which takes
one strict form and says plainly what is wrong with anything else. Library code imports these
from here, never from the CLI's helpers: this module must not import click.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import overload

from custodes.errors import CustodesError

UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
MICROS_PER_DAY = 86_400_000_000
MICROS_PER_HOUR = 3_600_000_000

_ONE_MICRO = dt.timedelta(microseconds=1)

# RFC 3339's date-time (ISO 8601 extended form): a 'T' (or, as RFC 3339 allows, a space),
# seconds optional, at most nanoseconds, and a zone. No week dates, no basic form, no bare hour.
_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d{1,9}))?([Zz]|[+-][01]\d:[0-5]\d)?",
    re.ASCII)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


class BadTime(CustodesError, ValueError):
    """A time's text that is not RFC 3339 (a ValueError too, for callers that fall back)."""


def epoch_us(value: dt.datetime) -> int:
    """Microseconds since 1970-01-01T00:00Z (a time without a zone is taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - EPOCH) // _ONE_MICRO


def from_epoch_us(value: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=int(value))


@overload
def iso(value: dt.datetime, digits: int = 0) -> str: ...
@overload
def iso(value: None, digits: int = 0) -> None: ...
@overload
def iso(value: dt.datetime | None, digits: int = 0) -> str | None: ...


def iso(value: dt.datetime | None, digits: int = 0) -> str | None:
    """RFC 3339 in UTC with a Z and four year digits, to the second (the form every JSON output
    uses) or with ``digits`` (1-6) of its fraction, truncated. A time without a zone is UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    # isoformat, not strftime: %Y drops the leading zeros of years below 1000 on glibc (status
    # once printed ``1-01-01T00:00:00.00Z``)
    text = value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
    return (text[:20 + digits] if digits else text[:19]) + "Z"


def parse_iso(text: str, what: str | None = None, *, date_ok: bool = False) -> dt.datetime:
    """An RFC 3339 time with its zone (``2025-02-03T04:05:06Z``, ``...+09:00``), in UTC.

    With ``date_ok``, a bare date (``2025-02-03``) is its midnight UTC. Anything else (no zone,
    a week date, ``2025-02-30``, trailing text) raises :class:`BadTime` naming ``what`` (where the
    text came from: a file and field) and the form expected."""
    where = f"{what}: " if what else ""
    if not isinstance(text, str):
        raise BadTime(f"{where}expected an RFC 3339 time as text, got {type(text).__name__}")
    if date_ok and _DATE.fullmatch(text):
        try:
            return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)
        except ValueError:
            raise BadTime(f"{where}{text!r} is not a calendar date") from None
    match = _RFC3339.fullmatch(text)
    if match is None:
        expected = "an RFC 3339 time or a date (e.g. 2025-02-03T04:05:06Z, 2025-02-03)" if date_ok \
            else "an RFC 3339 time (e.g. 2025-02-03T04:05:06Z)"
        raise BadTime(f"{where}{text!r} is not {expected}")
    date, clock, fraction, zone = match.groups()
    if zone is None:
        raise BadTime(f"{where}{text!r} has no time zone; add Z or an offset such as +09:00")
    micros = (fraction or "").ljust(6, "0")[:6]
    zone = "+00:00" if zone in ("Z", "z") else zone
    try:
        parsed = dt.datetime.fromisoformat(f"{date}T{clock}{'.' + micros if fraction else ''}{zone}")
    except ValueError:
        raise BadTime(f"{where}{text!r} is not a valid time (no such date, hour or zone)") from None
    return parsed.astimezone(UTC)
