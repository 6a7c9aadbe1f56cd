"""Scope on the hand-made world: every figure known by construction (see conftest)."""

from __future__ import annotations

import csv
import datetime as dt
import stat

import pytest

from custodes.errors import CustodesError, UsageError
from custodes.respond import Selector, scope
from custodes.respond.scope import ACCOUNTS_CSV_HEADER, accounts_table, write_accounts_csv

from .conftest import T

FORGED_FIELDS = {"name": 3, "email": 3, "phone": 1, "address": 2, "entrance_code": 1}


def accounts_of(engine, result):
    return accounts_table(engine, result).column("account_id").to_pylist()


def test_kid_scope_counts_every_request_signed_by_the_key(world):
    r = scope(world, world.workspace, Selector("kid", "k-old"))
    out = r.to_json()
    assert (out["accounts"], out["records"], out["requests"]) == (4, 6, 6)
    assert out["first_access"] == "2025-04-14T03:00:00Z" and out["last_access"] == "2025-04-15T03:00:00Z"
    # c1's one legitimate k-old call (addresses: name;phone;address) adds to the forged ones
    assert out["fields"] == {"name": 4, "email": 3, "phone": 2, "address": 3, "entrance_code": 1}
    assert out["daily"] == [{"date": "2025-04-14", "requests": 4, "accounts": 3},
                            {"date": "2025-04-15", "requests": 2, "accounts": 1}]
    assert accounts_of(world, r) == ["c1", "c10", "c11", "c12"]


def test_incident_scope_counts_only_the_malicious_requests(world, fake_detect):
    r = scope(world, world.workspace, Selector("incident", "i-forgery"))
    assert (r.accounts, r.requests, r.records) == (3, 5, 5)
    assert r.fields == FORGED_FIELDS
    assert accounts_of(world, r) == ["c10", "c11", "c12"]


def test_unknown_incident_is_a_clear_error(world, fake_detect):
    with pytest.raises(CustodesError, match="unknown incident 'i-nope'"):
        scope(world, world.workspace, Selector("incident", "i-nope"))


def test_employee_scope_follows_keys_credentials_and_own_requests(world):
    ex = scope(world, world.workspace, Selector("employee", "e-ex"))
    assert accounts_of(world, ex) == ["c10", "c11", "c12"]  # unissued k-old tokens only, not c1's real one
    assert ex.fields == FORGED_FIELDS
    dev = scope(world, world.workspace, Selector("employee", "e-dev"))
    assert (dev.requests, dev.records, dev.accounts) == (2, 501, 1)  # ak-1's bulk export
    cs = scope(world, world.workspace, Selector("employee", "e-cs"))
    assert accounts_of(world, cs) == ["c20", "c21"] and cs.requests == 3


def test_employee_scope_without_issuance_keeps_direct_evidence(workspace):
    from custodes.engine import connect

    from .conftest import register_world

    with connect(workspace, "duckdb") as engine:
        register_world(engine, with_issuance=False)
        with pytest.raises(CustodesError, match="matches no access request"):
            scope(engine, workspace, Selector("employee", "e-ex"))
        assert scope(engine, workspace, Selector("employee", "e-cs")).accounts == 2


def test_bulk_rows_count_records_but_only_named_accounts(world):
    r = scope(world, world.workspace, Selector("credential", "ak-1"))
    assert (r.requests, r.records, r.accounts) == (2, 501, 1)
    assert r.fields == {"name": 1, "email": 1, "phone": 1}


def test_actor_scope_resolves_account_id_for_staff(world):
    r = scope(world, world.workspace, Selector("actor", "e-cs"))
    assert (r.accounts, r.requests) == (2, 3)
    assert r.daily == [{"date": "2025-04-14", "requests": 3, "accounts": 2}]


@pytest.mark.parametrize("value, requests, accounts", [
    ("203.0.113.7", 4, 2),          # includes the anonymous catalogue hit, which has no account
    ("203.0.113.0/24", 6, 3),
    ("203.0.113.8/30", 2, 2),       # .9 only: a prefix that does not end on an octet
    ("203.0.113.0/29", 4, 2),       # .7 only
    ("10.0.0.0/8", 11, 5),
    ("2001:db8::/32", 1, 1),
    ("2001:0db8:0::10", 1, 1),      # a non-canonical spelling of the logged address
])
def test_src_ip_and_cidr(world, value, requests, accounts):
    r = scope(world, world.workspace, Selector("src_ip", value))
    assert (r.requests, r.accounts) == (requests, accounts)


def test_bad_address_is_a_usage_error(world):
    with pytest.raises(UsageError, match="neither an IP address nor a CIDR"):
        scope(world, world.workspace, Selector("src_ip", "203.0.113.300/24"))


def test_time_window_is_since_inclusive_until_exclusive(world):
    r = scope(world, world.workspace, Selector("kid", "k-old"), since=T(14, 4), until=T(15, 2))
    assert (r.requests, r.accounts) == (3, 3)  # 04:00 c10, 05:00 c11, 08:00 c1; 15 02:00 excluded
    assert r.to_json()["since"] == "2025-04-14T04:00:00Z"


def test_nothing_matching_is_an_error_never_an_empty_result(world):
    with pytest.raises(CustodesError, match="--kid k-none matches no access request$"):
        scope(world, world.workspace, Selector("kid", "k-none"))
    with pytest.raises(CustodesError, match=r"in \[2025-04-20T00:00:00Z, \+inf\) \(6 outside it\)"):
        scope(world, world.workspace, Selector("kid", "k-old"), since=T(20, 0))
    with pytest.raises(CustodesError, match="empty window"):
        scope(world, world.workspace, Selector("kid", "k-old"), since=T(15), until=T(14))


def test_without_catalog_fields_are_unknown_and_said_so(workspace):
    from custodes.engine import connect

    from .conftest import access_rows, with_keys

    with connect(workspace, "duckdb") as engine:
        engine.register("access", with_keys("access", access_rows()))
        r = scope(engine, workspace, Selector("kid", "k-old"))
        assert r.fields == {} and r.accounts == 4
        assert any("no catalog" in n for n in r.notes)


def test_accounts_csv_is_the_contract_shape_and_private(world, tmp_path):
    r = scope(world, world.workspace, Selector("kid", "k-old"))
    out = tmp_path / "accounts.csv"
    assert write_accounts_csv(world, r, out) == 4
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = list(csv.reader(out.open()))
    assert tuple(rows[0]) == ACCOUNTS_CSV_HEADER
    assert rows[1:] == [
        ["c1", "2025-04-14T08:00:00Z", "2025-04-14T08:00:00Z", "1", "name;phone;address"],
        ["c10", "2025-04-14T03:00:00Z", "2025-04-14T04:00:00Z", "2", "name;email;phone;address"],
        ["c11", "2025-04-14T05:00:00Z", "2025-04-14T05:00:00Z", "1", "name;email"],
        ["c12", "2025-04-15T02:00:00Z", "2025-04-15T03:00:00Z", "2", "name;email;address;entrance_code"],
    ]


def test_catalog_items_operator_named_and_order():
    from custodes.respond.scope import Catalog

    cat = Catalog.from_rows([{"route": "/a", "fields": "loyalty_id; email"}, {"route": "/b", "fields": ""},
                             {"route": "/c", "fields": "name;email"}])
    assert cat.items == ("name", "email", "loyalty_id")
    assert cat.decode(cat.route_masks["/a"]) == ["email", "loyalty_id"] and cat.route_masks["/b"] == 0


def test_selector_validation():
    with pytest.raises(UsageError):
        Selector("hostname", "x")
    with pytest.raises(UsageError):
        Selector("kid", "  ")
    assert Selector("src_ip", "1.2.3.4").describe() == "--src-ip 1.2.3.4"


def test_timestamps_are_utc(world):
    r = scope(world, world.workspace, Selector("kid", "k-old"))
    assert r.first_access.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize("value, requests", [("203.0.113.8/30", 2), ("203.0.113.0/24", 6), ("10.0.0.0/8", 11)])
def test_cidr_text_fallback_for_crowded_networks_gives_the_same_answer(world, monkeypatch, value, requests):
    from custodes.respond import selector

    monkeypatch.setattr(selector, "MAX_KEYED_ADDRESSES", 0)  # every network counts as crowded
    assert scope(world, world.workspace, Selector("src_ip", value)).requests == requests


def test_daily_timeline_splits_at_utc_midnight_to_the_microsecond(workspace):
    from custodes.engine import connect

    from .conftest import PROFILE, req, with_keys

    last = dt.datetime(2025, 4, 14, 23, 59, 59, 999999, tzinfo=dt.timezone.utc)
    rows = [req(last, PROFILE, actor_id="c1", token_kid="k"), req(last + dt.timedelta(microseconds=1), PROFILE,
                                                                   actor_id="c1", token_kid="k"),
            req(dt.datetime(1969, 12, 31, 23, 0, tzinfo=dt.timezone.utc), PROFILE, actor_id="c2", token_kid="k")]
    with connect(workspace, "duckdb") as engine:
        engine.register("access", with_keys("access", rows))
        r = scope(engine, workspace, Selector("kid", "k"))
    assert r.daily == [{"date": "1969-12-31", "requests": 1, "accounts": 1},
                       {"date": "2025-04-14", "requests": 1, "accounts": 1},
                       {"date": "2025-04-15", "requests": 1, "accounts": 1}]
