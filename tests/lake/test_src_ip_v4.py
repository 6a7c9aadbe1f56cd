"""``src_ip_v4``: the IPv4 address as its unsigned 32-bit value (also for an IPv4-mapped IPv6
address), NULL otherwise; scope filters CIDRs with ``src_ip_v4 BETWEEN lo AND hi``."""

from __future__ import annotations

import datetime as dt
import ipaddress

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings, strategies as st

from custodes import ids
from custodes.engine import connect
from custodes.lake import ingest, quarantined
from custodes.lake.ips import _typed_distinct
from custodes.lake.keys import hash_values

from .conftest import access_row, write_csv

UTC = dt.timezone.utc

SPELLINGS = {
    "10.0.0.1": 167772161,
    "255.255.255.255": 4294967295,
    "0.0.0.0": 0,
    "::ffff:10.0.0.1": 167772161,
    "::FFFF:10.0.0.1": 167772161,
    "::ffff:a00:1": 167772161,
    "0:0:0:0:0:ffff:a00:1": 167772161,
    "0::ffff:10.0.0.1": 167772161,
    "0:0:0:0:0:FFFF:0A00:0001": 167772161,
    "0:0:0:0:0:ffff::": 0,           # ::ffff:0.0.0.0, a spelling only the standard library reads
    "2001:db8::1": None,             # plain IPv6
    "::10.0.0.1": None,              # IPv4-compatible (deprecated), not mapped
    "::ffff:0:10.0.0.1": None,       # IPv4-translated (SIIT), not mapped
    "64:ff9b::10.0.0.1": None,       # NAT64, not mapped
}


def test_v4_value_of_every_spelling(workspace, files):
    rows = [access_row(i, src_ip=ip) for i, ip in enumerate(SPELLINGS)]
    report = ingest(workspace, "access", [write_csv(files / "a.csv", rows)])
    assert (report.rows, report.quarantined) == (len(SPELLINGS), 0)
    with connect(workspace, "duckdb") as engine:
        got = engine.to_arrow(engine.table("access").select("_row", "src_ip", "src_ip_key", "src_ip_v4")).to_pylist()
    by_row = {r["_row"]: r for r in got}
    for i, (ip, v4) in enumerate(SPELLINGS.items()):
        r = by_row[i + 1]
        assert r["src_ip_v4"] == v4, ip
        stored = ip if "." in ip and ":" not in ip else ip.lower()
        assert r["src_ip"] == stored and r["src_ip_key"] == ids.key_of(stored)


def test_issuance_null_src_ip_is_null_v4_and_bad_ip_is_quarantined(workspace, files):
    base = {"time": "2025-04-14T00:00:00Z", "token_id": "t", "kid": "k", "subject": "c-1", "actor_type": "customer",
            "iat": "2025-04-14T00:00:00Z", "exp": "2025-04-14T01:00:00Z"}
    rows = [dict(base, token_id="t1", src_ip=""), dict(base, token_id="t2", src_ip="192.0.2.7"),
            dict(base, token_id="t3", src_ip="192.0.2.300")]
    report = ingest(workspace, "issuance", [write_csv(files / "i.csv", rows)])
    assert (report.rows, report.reasons) == (2, {"bad_ip": 1})
    with connect(workspace, "duckdb") as engine:
        got = {r["token_id"]: r for r in engine.to_arrow(engine.table("issuance")).to_pylist()}
    assert got["t1"]["src_ip"] is None and got["t1"]["src_ip_v4"] is None and got["t1"]["src_ip_key"] is None
    assert got["t2"]["src_ip_v4"] == int(ipaddress.IPv4Address("192.0.2.7"))
    (q,) = quarantined(workspace, "issuance").to_pylist()
    assert (q["row"], q["column"], q["reason"], q["value"]) == (3, "src_ip", "bad_ip", "192.0.2.300")


def test_an_earlier_bad_column_is_the_reason_not_the_address(workspace, files):
    # the quarantine names the first bad column in contract order: time comes before src_ip,
    # src_ip before method
    rows = [access_row(1, time="yesterday", src_ip="nope"), access_row(2, src_ip="nope", actor_type="robot")]
    ingest(workspace, "access", [write_csv(files / "a.csv", rows)])
    got = [(q["row"], q["column"], q["reason"]) for q in quarantined(workspace).to_pylist()]
    assert got == [(1, "time", "bad_time"), (2, "src_ip", "bad_ip")]


def test_parquet_input_gets_v4_too(workspace, files):
    table = pa.table({"time": pa.array([dt.datetime(2025, 4, 14, 1, tzinfo=UTC)] * 2, pa.timestamp("us", tz="UTC")),
                      "src_ip": ["198.51.100.1", "::ffff:198.51.100.1"], "method": ["GET"] * 2, "route": ["/a"] * 2,
                      "status": [200, 200], "actor_type": ["service"] * 2, "credential_type": ["mtls"] * 2})
    pq.write_table(table, files / "a.parquet")
    ingest(workspace, "access", [files / "a.parquet"])
    with connect(workspace, "duckdb") as engine:
        t = engine.table("access")
        lo, hi = int(ipaddress.IPv4Address("198.51.100.0")), int(ipaddress.IPv4Address("198.51.100.255"))
        n = engine.to_arrow(t.filter(t.src_ip_v4.between(lo, hi)).count().name("n").as_table()).to_pylist()
    assert n == [{"n": 2}]


def _expected_v4(text: str):
    addr = ipaddress.ip_address(text)
    if addr.version == 4:
        return int(addr)
    return int(addr.ipv4_mapped) if addr.ipv4_mapped is not None else None


_con = duckdb.connect()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=4).map(lambda a: f"::ffff:{a}"),
    st.ip_addresses(v=4).map(lambda a: ipaddress.IPv6Address(f"::ffff:{a}").exploded.upper()),
    st.ip_addresses(v=4).map(lambda a: ipaddress.IPv6Address(f"::ffff:{a}").compressed),
    st.ip_addresses(v=6).map(str),
    st.ip_addresses(v=6).map(lambda a: a.exploded),
), min_size=1, max_size=30, unique=True))
def test_v4_agrees_with_python(values):
    ip, v4 = _typed_distinct(_con, pa.array(values, pa.string()))
    assert v4.to_pylist() == [_expected_v4(v) for v in values]
    assert ip.to_pylist() == [v if ":" not in v else v.lower() for v in values]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=30)), min_size=1, max_size=30))
def test_fast_keys_are_ids_key_of(values):
    assert hash_values(_con, pa.array(values, pa.string())).to_pylist() == [ids.key_of(v) for v in values]
