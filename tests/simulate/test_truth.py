"""Ground truth agrees with the data: each scenario's accounts are exactly those its requests
touched, its indicators are in the data, and its story holds (who left before what)."""

from __future__ import annotations

import datetime as dt

import pytest

from custodes.simulate import load_truth
from custodes.simulate.scenarios.base import ENTITY_KEYS


@pytest.fixture(scope="module")
def truth(world_dir):
    return load_truth(world_dir)


def scenario(truth, name):
    return next(s for s in truth["scenarios"] if s["name"] == name)


def lookalike(truth, name):
    return next(s for s in truth["lookalikes"] if s["name"] == name)


def ts(text):
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def accounts(db, where, params=()):
    rows = db.execute(f"SELECT DISTINCT account_id FROM access WHERE ({where}) AND account_id IS NOT NULL",
                      list(params)).fetchall()
    return {r[0] for r in rows}


def forged_rows(truth):
    """Requests whose token the authorization server never issued, minus the known ledger gaps."""
    lost = lookalike(truth, "issuance_loss")["indicators"]["credential_id"]
    quoted = ",".join(f"'{j}'" for j in lost) or "''"
    return (f"credential_type = 'access_token' AND credential_id NOT IN (SELECT token_id FROM issuance) "
            f"AND credential_id NOT IN ({quoted})")


def test_ground_truth_shape(truth):
    assert [s["name"] for s in truth["scenarios"]] == ["key_forgery", "departed_credential", "curious_insider"]
    for entry in truth["scenarios"] + truth["lookalikes"]:
        assert list(entry["indicators"]) == list(ENTITY_KEYS)
        assert all(isinstance(v, list) for v in entry["indicators"].values())
    for s in truth["scenarios"]:
        assert ts(s["start"]) <= ts(s["end"])
        assert s["account_count"] == len(s["account_ids"]) > 0


def test_forged_tokens_are_absent_from_issuance_and_touch_exactly_the_truth_accounts(db, truth):
    forgery = scenario(truth, "key_forgery")
    where = forged_rows(truth)
    assert accounts(db, where) == forgery["account_ids"]
    kids, subs_match, foreign = db.execute(
        f"SELECT list(DISTINCT token_kid), bool_and(actor_id = account_id), bool_and(geo_country <> 'KR') "
        f"FROM access WHERE {where}").fetchone()
    assert kids == forgery["indicators"]["kid"] and subs_match and foreign
    # Every forged request falls inside the scenario's window, and each jti is new.
    first, last, requests, jtis = db.execute(
        f"SELECT min(time), max(time), count(*), count(DISTINCT credential_id) FROM access WHERE {where}").fetchone()
    second = dt.timedelta(seconds=1)
    assert ts(forgery["start"]) <= first < ts(forgery["start"]) + second
    assert ts(forgery["end"]) - second < last <= ts(forgery["end"])
    assert requests == forgery["requests"] and jtis == forgery["account_count"]


def test_forgery_reads_profile_and_address_pages_low_and_slow(db, truth):
    where = forged_rows(truth)
    routes = dict(db.execute(f"SELECT route, count(*) FROM access WHERE {where} GROUP BY route").fetchall())
    assert routes["/api/v1/me/profile"] == scenario(truth, "key_forgery")["account_count"]
    assert routes["/api/v1/me/addresses"] > routes["/api/v1/me/profile"] / 2
    per_day = [n for (n,) in db.execute(
        f"SELECT count(*) FROM access WHERE {where} GROUP BY time::DATE ORDER BY time::DATE").fetchall()]
    assert per_day == sorted(per_day), "the campaign grows day by day"
    total = db.execute("SELECT count(*) FROM access").fetchone()[0]
    assert sum(per_day) < 0.05 * total, "a small fraction of the traffic"
    agents = {r[0] for r in db.execute(f"SELECT DISTINCT user_agent FROM access WHERE {where}").fetchall()}
    real = {r[0] for r in db.execute(
        "SELECT DISTINCT user_agent FROM access a JOIN issuance i ON a.credential_id = i.token_id").fetchall()}
    assert agents <= real, "forged requests look like the real app"


def test_the_custodian_left_before_the_forgery_and_the_key_was_never_rotated(db, truth):
    forgery = scenario(truth, "key_forgery")
    (custodian,), (kid,) = forgery["indicators"]["employee_id"], forgery["indicators"]["kid"]
    left = db.execute("SELECT terminated_at FROM workforce WHERE employee_id = ?", [custodian]).fetchone()[0]
    assert left is not None and left + dt.timedelta(days=3) < ts(forgery["start"])
    held = db.execute("SELECT count(*) FROM key_custody WHERE kid = ? AND employee_id = ?", [kid, custodian]).fetchone()[0]
    assert held == 1
    created, retired = db.execute("SELECT created_at, retired_at FROM keys WHERE kid = ?", [kid]).fetchone()
    assert created < left and retired is None
    # The key keeps signing real tokens too: the forgery hides among them.
    assert db.execute("SELECT count(*) FROM issuance WHERE kid = ?", [kid]).fetchone()[0] > 1000


def test_departed_credential_is_used_after_termination_and_touches_exactly_its_accounts(db, truth):
    departed = scenario(truth, "departed_credential")
    (cred,), (employee,) = departed["indicators"]["credential_id"], departed["indicators"]["employee_id"]
    left = db.execute("SELECT terminated_at FROM workforce WHERE employee_id = ?", [employee]).fetchone()[0]
    owner, revoked = db.execute("SELECT owner_id, revoked_at FROM credentials WHERE credential_id = ?", [cred]).fetchone()
    assert owner == employee and revoked is None
    assert left < ts(departed["start"])
    where = "credential_id = ? AND time > ?"
    assert accounts(db, where, [cred, left]) == departed["account_ids"]
    records, bulk = db.execute(
        "SELECT sum(coalesce(record_count, 1)), count(*) FILTER (WHERE route = '/admin/export/customers') "
        "FROM access WHERE credential_id = ? AND time > ?", [cred, left]).fetchone()
    assert records == departed["records"] and bulk > 0 and records > 10 * departed["account_count"]
    assert db.execute("SELECT bulk FROM catalog WHERE route = '/admin/export/customers'").fetchone()[0] is True


def test_curious_insider_reads_many_times_more_customers_than_peers(db, truth):
    insider = scenario(truth, "curious_insider")
    (agent,) = insider["indicators"]["actor_id"]
    start = ts(insider["start"])
    assert accounts(db, "actor_id = ? AND time >= ?", [agent, start]) == insider["account_ids"]
    per_agent = dict(db.execute(
        "SELECT actor_id, count(DISTINCT account_id) FROM access a JOIN workforce w ON a.actor_id = w.employee_id "
        "WHERE w.role = 'cs_agent' AND a.time >= ? GROUP BY actor_id", [start]).fetchall())
    peers = sorted(v for k, v in per_agent.items() if k != agent)
    assert per_agent[agent] > 4 * peers[len(peers) // 2]
    night = db.execute("SELECT count(*) FROM access WHERE actor_id = ? AND time >= ? AND hour(time) BETWEEN 13 AND 17",
                       [agent, start]).fetchone()[0]
    assert night > 0.15 * insider["requests"]
    left = db.execute("SELECT terminated_at FROM workforce WHERE employee_id = ?", [agent]).fetchone()[0]
    assert left is None, "a current employee"


def test_no_scenario_account_leaks_in_from_outside_its_requests(db, truth):
    # The three scenarios' request sets are disjoint from each other: each account list is its own.
    forgery_where = forged_rows(truth)
    departed = scenario(truth, "departed_credential")["indicators"]["credential_id"][0]
    insider = scenario(truth, "curious_insider")["indicators"]["actor_id"][0]
    overlap = db.execute(
        f"SELECT count(*) FROM access WHERE ({forgery_where}) AND (credential_id = ? OR actor_id = ?)",
        [departed, insider]).fetchone()[0]
    assert overlap == 0


COLUMN_OF = {"kid": ("access", "token_kid"), "src_ip": ("access", "src_ip"),
             "credential_id": ("access", "credential_id"), "actor_id": ("access", "actor_id"),
             "employee_id": ("workforce", "employee_id")}


@pytest.mark.parametrize("name", ["key_forgery", "departed_credential", "curious_insider"])
def test_every_indicator_is_in_the_data(db, truth, name):
    for key, values in scenario(truth, name)["indicators"].items():
        table, column = COLUMN_OF[key]
        for value in values:
            found = db.execute(f"SELECT count(*) FROM {table} WHERE {column} = ?", [value]).fetchone()[0]
            assert found > 0, (name, key, value)


def test_account_files_are_sorted_one_id_a_line(world_dir, truth):
    for s in truth["scenarios"]:
        lines = (world_dir / s["accounts"]).read_text().splitlines()
        assert lines == sorted(set(lines)) and all(line.startswith("u") for line in lines)
