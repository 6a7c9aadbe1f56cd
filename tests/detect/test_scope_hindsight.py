"""Scope judges unissued tokens with all issuance known now; detection only with what was known
at the time of use (so incremental runs equal full ones). Issue #5: the key-forgery scope must
be exact, so a customer whose issuance rows were lost, and whose new device shows up in their
own ledger days later, is not counted among the forgery's victims."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from . import world as hand_world
from .conftest import engine_over

LOST = "c0060"  # not a forgery victim (those are c0100-c0299)


def _with_lost_row_customer(world_tables, later_issuance: bool) -> dict:
    """On the forgery day, LOST uses a token missing from the ledger, from a new phone and a new
    address (nothing ties it to them at the time); a day later the ledger shows that phone."""
    when = hand_world.t(hand_world.FORGERY_DAY, 15)
    use = {"time": when, "src_ip": "203.0.113.60", "device_id": "dev-0060-new", "geo_country": "KR",
           "asn": 4766, "method": "GET", "route": "/api/v1/me/profile", "status": 200,
           "actor_type": "customer", "actor_id": LOST, "account_id": LOST,
           "credential_type": "access_token", "credential_id": "jti-lost-60", "token_kid": "k-old",
           "token_iat": when, "token_exp": when + dt.timedelta(hours=24), "session_id": "sid-new-60",
           "_seq": 9}
    tables = dict(world_tables)
    tables["access"] = pa.concat_tables([tables["access"], hand_world.table("access", [use])])
    if later_issuance:
        later = when + dt.timedelta(days=1)
        row = {"time": later, "token_id": "jti-later-60", "kid": "k-old", "subject": LOST,
               "actor_type": "customer", "session_id": "sid-other-60", "grant": "password",
               "iat": later, "exp": later + dt.timedelta(hours=24), "src_ip": "203.0.113.99",
               "device_id": "dev-0060-new", "_seq": 10}
        tables["issuance"] = pa.concat_tables([tables["issuance"], hand_world.table("issuance", [row])])
    return tables


def _forgery_scope(tables):
    from custodes.detect.evidence import findings_requests
    from custodes.detect.registry import all_rules
    from custodes.detect.run import evaluate

    engine = engine_over(tables)
    rules = [r for r in all_rules() if r.id == "token.unissued"]
    findings = evaluate(engine, rules)
    day = next(f for f in findings if f["window"] == "2025-04-09")
    rows = engine.to_arrow(findings_requests(engine, findings, rules)).to_pylist()
    return day, rows


def test_a_lost_row_customer_seen_in_the_ledger_later_is_not_in_scope(world_tables):
    day, rows = _forgery_scope(_with_lost_row_customer(world_tables, later_issuance=True))
    # Detection judged with what was known at the time of use: the token was unexplained then.
    assert day["evidence"]["accounts"] == 101 and day["severity"] == "critical"
    # Scope judges with everything known now: the phone is the customer's own.
    accounts = {r["account_id"] for r in rows}
    assert LOST not in accounts
    assert accounts == {f"c{i:04d}" for i in range(100, 300)}
    assert all(r["credential_id"].startswith("forged-") for r in rows)


def test_an_unexplained_token_stays_in_scope_without_later_issuance(world_tables):
    _, rows = _forgery_scope(_with_lost_row_customer(world_tables, later_issuance=False))
    accounts = {r["account_id"] for r in rows}
    assert LOST in accounts and len(accounts) == 201
