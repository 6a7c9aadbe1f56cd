"""Impossible times never load: zone offsets beyond ±14:00 are ``bad_time``; a time outside the
window its column may hold is ``time_out_of_range``; so one row dated 2200 cannot move
detection's data-time now, nor the manifest's first/last time. Times print with four-digit years."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from custodes.engine import connect
from custodes.lake import ingest, manifest, quarantined, status

from .conftest import access_row, write_csv, write_jsonl

UTC = dt.timezone.utc


def _reasons(ws) -> list[tuple[int, str, str]]:
    return [(q["row"], q["column"], q["reason"]) for q in quarantined(ws).to_pylist()]


@pytest.mark.parametrize("time", ["2025-04-14T03:12:09+24:00", "2025-04-14T03:12:09+99:99",
                                  "2025-04-14T03:12:09+14:30", "2025-04-14T03:12:09-1500", "2025-04-14T03:12:09+15"])
def test_zone_offsets_beyond_14_hours_are_bad_time(workspace, files, time):
    report = ingest(workspace, "access", [write_csv(files / "a.csv", [access_row(1), access_row(2, time=time)])])
    assert report.rows == 1 and _reasons(workspace) == [(2, "time", "bad_time")]


def test_every_offset_in_use_loads(workspace, files):
    times = ["2025-04-14T03:12:09+14:00", "2025-04-14T03:12:09-12:00", "2025-04-14T03:12:09+05:45",
             "2025-04-14T03:12:09-0930", "2025-04-14T03:12:09+09"]
    report = ingest(workspace, "access", [write_csv(files / "a.csv", [access_row(i, time=t) for i, t in enumerate(times)])])
    assert (report.rows, report.quarantined) == (5, 0)


def test_times_outside_the_window_are_quarantined(workspace, files):
    now = dt.datetime.now(UTC)
    times = {
        2: "0001-01-01T00:00:00Z", 3: "1999-12-31T23:59:59Z", 4: "-1", 5: "2200-01-01T00:00:00Z",
        6: (now + dt.timedelta(days=2)).isoformat(), 7: "9999-12-31T23:59:59Z",
    }
    rows = [access_row(1)] + [access_row(i, time=t) for i, t in sorted(times.items())]
    rows.append(access_row(8, time=(now + dt.timedelta(hours=12)).isoformat()))  # clocks drift: a day's slack
    report = ingest(workspace, "access", [write_csv(files / "a.csv", rows)])
    assert report.rows == 2 and report.reasons == {"time_out_of_range": 6}
    assert _reasons(workspace) == [(i, "time", "time_out_of_range") for i in sorted(times)]


def test_token_claims_are_stored_as_given_not_windowed(workspace, files):
    """token_iat and token_exp are the token's claims: its holder chooses them. A window there
    would let a key holder send its own requests to quarantine (out of detection's sight) by
    signing an iat of 2200; they are stored, and never set the data-time now."""
    rows = [access_row(1, token_iat="2200-01-01T00:00:00Z", token_exp="0001-01-01T00:00:00Z"),
            access_row(2, token_iat="", token_exp="2200-01-01T00:00:00Z")]
    report = ingest(workspace, "access", [write_csv(files / "a.csv", rows)])
    assert (report.rows, report.quarantined) == (2, 0)


def test_scheduled_and_hr_times_may_lie_outside_the_event_window(workspace, files):
    staff = [{"employee_id": "e-1", "hired_at": "1987-03-01T00:00:00Z", "terminated_at": "2031-01-01T00:00:00Z"},
             {"employee_id": "e-2", "hired_at": "1850-01-01T00:00:00Z", "terminated_at": ""}]
    report = ingest(workspace, "workforce", [write_csv(files / "w.csv", staff)])
    assert report.rows == 1 and _reasons(workspace) == [(2, "hired_at", "time_out_of_range")]
    keys = [{"kid": "k-1", "alg": "ES256", "created_at": "2024-01-01T00:00:00Z", "retired_at": "2030-01-01T00:00:00Z"},
            {"kid": "k-2", "alg": "ES256", "created_at": "2300-01-01T00:00:00Z", "retired_at": ""}]
    report = ingest(workspace, "keys", [write_csv(files / "k.csv", keys)])
    assert report.rows == 1 and report.reasons == {"time_out_of_range": 1}


def test_parquet_timestamps_and_epochs_meet_the_same_window(workspace, files):
    table = pa.table({
        "time": pa.array([dt.datetime(2025, 4, 14, tzinfo=UTC), dt.datetime(2200, 1, 1, tzinfo=UTC),
                          dt.datetime(1, 1, 1, tzinfo=UTC)], pa.timestamp("us", tz="UTC")),
        "src_ip": ["10.0.0.1"] * 3, "method": ["GET"] * 3, "route": ["/a"] * 3, "status": [200] * 3,
        "actor_type": ["service"] * 3, "credential_type": ["mtls"] * 3,
    })
    pq.write_table(table, files / "a.parquet")
    lines = [dict(access_row(1), time=-1), dict(access_row(2), time=-(2 ** 63)), dict(access_row(3), time=1744588800)]
    ingest(workspace, "access", [files / "a.parquet", write_jsonl(files / "b.jsonl", lines)])
    got = [(q["file"][-7:], q["row"], q["reason"]) for q in quarantined(workspace).to_pylist()]
    assert got == [("parquet", 2, "time_out_of_range"), ("parquet", 3, "time_out_of_range"),
                   ("b.jsonl", 1, "time_out_of_range"), ("b.jsonl", 2, "time_out_of_range")]


def test_the_window_is_configurable(workspace, files):
    workspace.config_path.write_text("ingest:\n  time_window:\n    earliest: 1990-01-01\n    ahead_days: 0\n")
    now = dt.datetime.now(UTC)
    rows = [access_row(1, time="1995-06-01T00:00:00Z"), access_row(2, time=(now + dt.timedelta(hours=1)).isoformat())]
    report = ingest(workspace, "access", [write_csv(files / "a.csv", rows)])
    assert report.rows == 1 and _reasons(workspace) == [(2, "time", "time_out_of_range")]


def test_a_bad_window_setting_is_one_clear_error(workspace, files):
    workspace.config_path.write_text("ingest:\n  time_window:\n    earliest: someday\n")
    with pytest.raises(Exception, match=r"ingest\.time_window\.earliest: 'someday' is not an RFC 3339 time or a date"):
        ingest(workspace, "access", [write_csv(files / "a.csv", [access_row(1)])])


def test_detections_now_and_the_manifest_never_come_from_a_quarantined_row(workspace, files):
    """One access row dated 2200 moved detection's now to 2200 (CONTRACT.md §3, data time)."""
    from custodes.detect.run import data_bounds

    rows = [access_row(1), access_row(2, time="2200-01-01T00:00:00Z"), access_row(3, time="2025-04-14T02:00:03Z")]
    ingest(workspace, "access", [write_csv(files / "a.csv", rows)])
    (entry,) = manifest.entries(workspace)
    assert entry["last_time"] == "2025-04-14T02:00:03.000000Z"
    assert status(workspace)["datasets"]["access"]["last_time"] == "2025-04-14T02:00:03Z"
    with connect(workspace, "duckdb") as engine:
        _, now = data_bounds(engine)
    assert now == dt.datetime(2025, 4, 14, 2, 0, 3, tzinfo=UTC)


def test_times_print_as_rfc3339_with_four_digit_years(workspace, files, capsys):
    """An operator who opens the window to year 1 sees 0001-01-01T00:00:00Z, not 1-01-01T00:00:00.00Z."""
    from custodes.cli import main

    workspace.config_path.write_text("ingest:\n  time_window:\n    earliest: 0001-01-01\n")
    ingest(workspace, "access", [write_csv(files / "a.csv", [access_row(1, time="0001-01-01T00:00:00Z"), access_row(2)])])
    assert manifest.entries(workspace)[0]["first_time"] == "0001-01-01T00:00:00.000000Z"
    with pytest.raises(SystemExit):
        main(["status", "--workspace", str(workspace.root), "--format", "json"])
    assert json.loads(capsys.readouterr().out)["datasets"]["access"]["first_time"] == "0001-01-01T00:00:00Z"


def test_an_epoch_of_minus_two_to_the_63_fails_its_row_not_the_file(workspace, files):
    lines = [access_row(1), dict(access_row(2), time="-9223372036854775808"), access_row(3)]
    report = ingest(workspace, "access", [write_jsonl(files / "a.jsonl", lines)])
    assert report.rows == 2 and _reasons(workspace) == [(2, "time", "time_out_of_range")]
