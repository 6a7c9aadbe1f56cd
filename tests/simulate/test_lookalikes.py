"""The benign look-alikes are really in the data (and gone with lookalikes=False)."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from custodes.simulate import load_truth, simulate


@pytest.fixture(scope="module")
def truth(world_dir):
    return load_truth(world_dir)


def entry(truth, name):
    return next(s for s in truth["lookalikes"] if s["name"] == name)


def test_carrier_nat_addresses_are_shared_by_many_real_customers(db, truth):
    ips = entry(truth, "carrier_nat")["indicators"]["src_ip"]
    shared = db.execute(
        "SELECT src_ip, count(DISTINCT account_id) FROM access WHERE list_contains(?, src_ip) "
        "AND credential_id IN (SELECT token_id FROM issuance) GROUP BY src_ip", [ips]).fetchall()
    assert len(shared) == len(ips) and min(n for _, n in shared) > 100


def test_office_nat_carries_every_employee(db, truth):
    (office,) = entry(truth, "office_nat")["indicators"]["src_ip"]
    staff = db.execute("SELECT count(DISTINCT actor_id) FROM access WHERE src_ip = ? AND actor_type = 'employee'",
                       [office]).fetchone()[0]
    assert staff >= 8


def test_notification_service_reads_many_accounts_with_issued_tokens(db, truth):
    (service,) = entry(truth, "notification_service")["indicators"]["actor_id"]
    n, unissued = db.execute(
        "SELECT count(DISTINCT account_id), count(*) FILTER (WHERE credential_id NOT IN (SELECT token_id FROM issuance)) "
        "FROM access WHERE actor_id = ?", [service]).fetchone()
    assert n > 500 and unissued == 0


def test_key_rotation_overlaps_then_retires_the_old_key(db, truth):
    old, new = entry(truth, "key_rotation")["indicators"]["kid"]
    rotated = dt.datetime.fromisoformat(entry(truth, "key_rotation")["start"].replace("Z", "+00:00"))
    both = db.execute("SELECT count(DISTINCT kid) FROM issuance WHERE time BETWEEN ? AND ? + INTERVAL 12 HOUR "
                      "AND kid IN (?, ?)", [rotated, rotated, old, new]).fetchone()[0]
    assert both == 2, "old and new keys sign side by side for a while"
    retired = db.execute("SELECT retired_at FROM keys WHERE kid = ?", [old]).fetchone()[0]
    late_use = db.execute("SELECT count(*) FROM access WHERE token_kid = ? AND time > ?", [old, retired]).fetchone()[0]
    assert late_use == 0


def test_lost_issuance_rows_are_real_tokens_used_by_their_own_subject(db, world_dir, truth):
    lost = entry(truth, "issuance_loss")["indicators"]["credential_id"]
    assert lost, "the small world loses a few"
    rows = db.execute(
        "SELECT bool_and(a.device_id = c.device_id) FROM access a JOIN "
        "(SELECT DISTINCT subject, device_id FROM issuance) c ON a.actor_id = c.subject "
        "WHERE list_contains(?, a.credential_id)", [lost]).fetchone()[0]
    assert rows is True
    assert db.execute("SELECT count(*) FROM issuance WHERE list_contains(?, token_id)", [lost]).fetchone()[0] == 0


def test_clock_skew_puts_some_requests_before_their_token_was_issued(db):
    early = db.execute("SELECT count(*), max(epoch(token_iat) - epoch(time)) FROM access WHERE time < token_iat").fetchone()
    assert early[0] > 0 and early[1] <= 120


def test_late_rows_sit_in_the_next_days_file(db, truth):
    late = db.execute("SELECT count(*) FROM access WHERE strftime(time, '%Y-%m-%d') < "
                      "regexp_extract(filename, '(\\d{4}-\\d\\d-\\d\\d)\\.parquet', 1)").fetchone()[0]
    assert late == entry(truth, "late_events")["details"]["rows"] > 0


def test_leavers_revoked_and_future_dated(db, truth):
    revoked = entry(truth, "revoked_leavers")["indicators"]["credential_id"]
    used_after = db.execute(
        "SELECT count(*) FROM access a JOIN credentials c USING (credential_id) "
        "WHERE list_contains(?, credential_id) AND a.time > c.revoked_at", [revoked]).fetchone()[0]
    assert revoked and used_after == 0
    future = entry(truth, "future_dated_leavers")["indicators"]["employee_id"]
    end = dt.datetime.fromisoformat(truth["end"].replace("Z", "+00:00"))
    for employee in future:
        left = db.execute("SELECT terminated_at FROM workforce WHERE employee_id = ?", [employee]).fetchone()[0]
        assert left > end


def test_without_lookalikes_the_world_is_plain(tmp_path):
    simulate(tmp_path / "w", customers=400, days=5, seed=3, lookalikes=False)
    db = duckdb.connect()
    access = f"read_parquet('{tmp_path}/w/access/*.parquet')"
    issuance = f"read_parquet('{tmp_path}/w/issuance/*.parquet')"
    assert load_truth(tmp_path / "w")["lookalikes"] == []
    shared = db.execute(f"SELECT max(n) FROM (SELECT count(DISTINCT account_id) n FROM {access} "
                        f"WHERE actor_type = 'customer' AND geo_country = 'KR' GROUP BY src_ip)").fetchone()[0]
    assert shared == 1, "no address shared between customers"
    assert db.execute(f"SELECT count(*) FROM {access} WHERE time < token_iat").fetchone()[0] == 0
    # Every token in access was issued, apart from the forged ones (foreign, app kid).
    unissued = db.execute(f"SELECT count(*) FROM {access} WHERE credential_type = 'access_token' AND "
                          f"credential_id NOT IN (SELECT token_id FROM {issuance}) AND geo_country = 'KR'").fetchone()[0]
    assert unissued == 0
    assert db.execute(f"SELECT count(*) FROM {access} WHERE actor_type = 'service'").fetchone()[0] == 0
