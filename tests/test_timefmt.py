"""custodes.timefmt: the one clock module, its strict parser, and that nothing else defines one."""

from __future__ import annotations

import ast
import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custodes.errors import CustodesError
from custodes.timefmt import (
    EPOCH, MICROS_PER_DAY, UTC, BadTime, epoch_us, from_epoch_us, iso, parse_iso,
)

SRC = Path(__file__).resolve().parents[1] / "src" / "custodes"
#: what only timefmt may define
CLOCK_NAMES = {"EPOCH", "MICROS_PER_DAY", "MICROS_PER_HOUR", "iso", "epoch_us", "from_epoch_us", "parse_iso"}

aware = st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30),
                     timezones=st.sampled_from([UTC, dt.timezone(dt.timedelta(hours=9)),
                                                dt.timezone(dt.timedelta(hours=-5, minutes=-30))]))


@pytest.mark.parametrize("text, expected", [
    ("2025-02-03T04:05:06Z", dt.datetime(2025, 2, 3, 4, 5, 6, tzinfo=UTC)),
    ("2025-02-03t04:05:06z", dt.datetime(2025, 2, 3, 4, 5, 6, tzinfo=UTC)),
    ("2025-02-03 04:05:06+09:00", dt.datetime(2025, 2, 2, 19, 5, 6, tzinfo=UTC)),
    ("2025-02-03T04:05Z", dt.datetime(2025, 2, 3, 4, 5, tzinfo=UTC)),
    ("2025-02-03T04:05:06.5-01:30", dt.datetime(2025, 2, 3, 5, 35, 6, 500_000, tzinfo=UTC)),
    ("2025-02-03T04:05:06.123456789Z", dt.datetime(2025, 2, 3, 4, 5, 6, 123456, tzinfo=UTC)),
    ("0001-01-01T00:00:00Z", dt.datetime(1, 1, 1, tzinfo=UTC)),
])
def test_rfc3339_times_parse_to_utc(text, expected):
    got = parse_iso(text)
    assert got == expected and got.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize("text, message", [
    ("2025-02-03T04:05:06", "has no time zone"),
    ("2025-02-03", "is not an RFC 3339 time"),                    # a bare date only when asked for
    ("2025-W06-1T00:00:00Z", "is not an RFC 3339 time"),          # ISO week date: fromisoformat reads it
    ("20250203T040506Z", "is not an RFC 3339 time"),              # basic form: fromisoformat reads it
    ("2025-02-03T04Z", "is not an RFC 3339 time"),                # an hour alone
    ("2025-02-03T04:05:06+14:60", "is not an RFC 3339 time"),     # minute 60 in the offset
    ("2025-02-03T04:05:06+0900", "is not an RFC 3339 time"),
    ("2025-02-30T00:00:00Z", "not a valid time"),
    ("2025-02-03T24:00:00Z", "not a valid time"),
    ("2025-02-03T04:05:06+24:00", "is not an RFC 3339 time"),
    ("\uff12\uff10\uff12\uff15-02-03T04:05:06Z", "is not an RFC 3339 time"),  # fullwidth digits
    ("2025-02-03T04:05:06Z\n", "is not an RFC 3339 time"),        # trailing text, even a newline
    (" 2025-02-03T04:05:06Z", "is not an RFC 3339 time"),
    ("2025-02-03T04:05:06.1234567890Z", "is not an RFC 3339 time"),
    ("", "is not an RFC 3339 time"),
])
def test_anything_else_is_one_clear_error_naming_where_it_came_from(text, message):
    with pytest.raises(BadTime, match=message) as raised:
        parse_iso(text, "keys.json: retired_at")
    assert str(raised.value).startswith("keys.json: retired_at: ")
    assert isinstance(raised.value, CustodesError) and isinstance(raised.value, ValueError)
    assert "\n" not in str(raised.value).rstrip("'")


def test_a_non_string_is_refused():
    with pytest.raises(BadTime, match="expected an RFC 3339 time as text, got int"):
        parse_iso(1738555506)  # type: ignore[arg-type]


def test_a_bare_date_is_midnight_utc_only_when_allowed():
    assert parse_iso("2025-02-03", date_ok=True) == dt.datetime(2025, 2, 3, tzinfo=UTC)
    assert parse_iso("2025-02-03T01:00:00Z", date_ok=True) == dt.datetime(2025, 2, 3, 1, tzinfo=UTC)
    with pytest.raises(BadTime, match="not a calendar date"):
        parse_iso("2025-02-30", date_ok=True)
    with pytest.raises(BadTime, match="or a date"):
        parse_iso("2025-2-3", date_ok=True)


@given(aware)
def test_iso_round_trips_through_parse_iso(value):
    assert parse_iso(iso(value, digits=6)) == value
    assert parse_iso(iso(value)) == value.replace(microsecond=0)


@given(aware)
def test_epoch_us_round_trips_and_days_divide(value):
    us = epoch_us(value)
    assert from_epoch_us(us) == value
    assert us // MICROS_PER_DAY == (value - EPOCH).days


def test_iso_keeps_four_year_digits_and_reads_naive_as_utc():
    assert iso(dt.datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00Z"
    assert iso(dt.datetime(2025, 2, 3, 4, 5, 6, 789000)) == "2025-02-03T04:05:06Z"
    assert iso(dt.datetime(2025, 2, 3, 4, 5, 6, 789000, tzinfo=UTC), digits=2) == "2025-02-03T04:05:06.78Z"
    assert iso(None) is None
    assert epoch_us(dt.datetime(1970, 1, 2)) == MICROS_PER_DAY


def test_timefmt_never_imports_click():
    code = "import sys, custodes.timefmt; print('click' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _clock_definitions(tree: ast.AST) -> list[str]:
    """Clock names a module defines itself, and datetime text it parses itself."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.lstrip("_") in CLOCK_NAMES:
            found.append(f"def {node.name}")
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found += [f"{t.id} =" for t in targets if isinstance(t, ast.Name) and t.id.lstrip("_") in CLOCK_NAMES]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = ast.unparse(node.func.value)
            if node.func.attr == "fromisoformat" and owner.endswith("datetime"):
                found.append(f"{owner}.fromisoformat()")
            if node.func.attr == "replace" and node.args and isinstance(node.args[0], ast.Constant) \
                    and node.args[0].value in ("Z", "z"):
                found.append('.replace("Z", ...)')
        elif isinstance(node, ast.Constant) and node.value in (86_400_000_000, 3_600_000_000):
            found.append(str(node.value))
    return found


def test_no_other_module_defines_a_clock():
    offenders = {}
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "timefmt.py" and path.parent == SRC:
            continue
        found = _clock_definitions(ast.parse(path.read_text(), str(path)))
        if found:
            offenders[str(path.relative_to(SRC))] = found
    assert offenders == {}, "import these from custodes.timefmt instead"


def test_the_clock_check_sees_what_it_looks_for():
    planted = ast.parse('EPOCH = 0\ndef iso(x): pass\nimport datetime as dt\n'
                        'dt.datetime.fromisoformat(s.replace("Z", "+00:00"))\nM = 86_400_000_000\n')
    assert sorted(_clock_definitions(planted)) == sorted([
        "EPOCH =", "def iso", "dt.datetime.fromisoformat()", '.replace("Z", ...)', "86400000000"])
