"""The benign platform behaves like one: tokens agree with their issuance, addresses are real
addresses, activity follows the day and a long tail, the back office is busy in office hours."""

from __future__ import annotations

import ipaddress


def test_every_issued_token_in_access_agrees_with_its_issuance(db):
    mismatched, joined = db.execute(
        "SELECT count(*) FILTER (WHERE a.actor_id <> i.subject OR a.token_kid <> i.kid OR a.token_iat <> i.iat "
        "OR a.token_exp <> i.exp OR a.session_id IS DISTINCT FROM i.session_id), count(*) "
        "FROM access a JOIN issuance i ON a.credential_id = i.token_id").fetchone()
    assert mismatched == 0 and joined > 0.9 * db.execute(
        "SELECT count(*) FROM access WHERE credential_type = 'access_token'").fetchone()[0]


def test_requests_fall_within_their_tokens_lifetime(db):
    expired = db.execute("SELECT count(*) FROM access WHERE time > token_exp").fetchone()[0]
    assert expired == 0
    lifetimes = db.execute("SELECT DISTINCT epoch(exp) - epoch(iat) FROM issuance").fetchall()
    assert lifetimes == [(3600.0,)]


def test_addresses_parse_and_are_mostly_domestic_with_some_ipv6(db):
    ips = [r[0] for r in db.execute("SELECT DISTINCT src_ip FROM access").fetchall()]
    parsed = [ipaddress.ip_address(ip) for ip in ips]
    assert any(p.version == 6 for p in parsed) and sum(p.version == 4 for p in parsed) > len(parsed) / 2
    assert all(str(p) == ip for p, ip in zip(parsed, ips)), "canonical text form"
    kr, total = db.execute("SELECT count(*) FILTER (WHERE geo_country = 'KR'), count(*) FROM access "
                           "WHERE actor_type = 'customer'").fetchone()
    assert kr > 0.95 * total
    asns = db.execute("SELECT count(DISTINCT asn) FROM access WHERE geo_country = 'KR'").fetchone()[0]
    assert asns >= 4


def test_customer_activity_is_diurnal_in_korean_time(db):
    by_hour = dict(db.execute("SELECT hour(time), count(*) FROM access WHERE actor_type = 'customer' "
                              "GROUP BY 1").fetchall())
    evening, small_hours = by_hour[12], by_hour[19]  # 21:00 and 04:00 KST
    assert evening > 5 * small_hours


def test_activity_is_heavy_tailed(db):
    counts = [r[0] for r in db.execute("SELECT count(*) FROM access WHERE actor_type = 'customer' "
                                       "AND credential_id IN (SELECT token_id FROM issuance) "
                                       "GROUP BY actor_id ORDER BY 1 DESC").fetchall()]
    top = counts[: max(1, len(counts) // 10)]
    assert sum(top) > 0.25 * sum(counts), "the busiest tenth make a large share of requests"
    assert counts[0] > 10 * counts[len(counts) // 2]


def test_back_office_works_office_hours_from_the_office(db):
    hours = dict(db.execute("SELECT hour(time) BETWEEN 0 AND 8, count(*) FROM access a "
                            "JOIN workforce w ON a.actor_id = w.employee_id WHERE w.role = 'cs_agent' "
                            "AND credential_type = 'session' GROUP BY 1").fetchall())
    assert hours[True] > 5 * hours.get(False, 0)


def test_tokens_are_minted_at_login_and_refreshed_hourly(db):
    grants = dict(db.execute("SELECT grant, count(*) FROM issuance GROUP BY 1").fetchall())
    assert grants["refresh_token"] > grants["password"] > 0 and grants["authorization_code"] > 0
    assert grants["client_credentials"] > 0
    clients = {r[0] for r in db.execute("SELECT DISTINCT client_id FROM issuance").fetchall()}
    assert {"shop-ios", "shop-android", "shop-web", "notification-service"} <= clients


def test_workforce_has_hires_and_leavers_in_the_window(db, world_dir):
    start, end = "2025-02-03", "2025-02-15"
    hires = db.execute("SELECT count(*) FROM workforce WHERE hired_at BETWEEN ? AND ?", [start, end]).fetchone()[0]
    leavers = db.execute("SELECT count(*) FROM workforce WHERE terminated_at BETWEEN ? AND ?", [start, end]).fetchone()[0]
    assert hires >= 2 and leavers >= 2
    managers = db.execute("SELECT count(*) FROM workforce WHERE manager_id NOT IN (SELECT employee_id FROM workforce)"
                          ).fetchone()[0]
    assert managers == 0
