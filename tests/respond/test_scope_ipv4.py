"""CIDR scope on the lake's ``src_ip_v4`` (the IPv4 address as an unsigned 32-bit integer, also
for IPv4-mapped IPv6), exact on a lake whose older files lack the column."""

from __future__ import annotations

import ipaddress

import ibis
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from custodes.engine import connect
from custodes.respond import Selector, scope
from custodes.respond.scope import accounts_table
from custodes.respond.selector import select_requests

from .conftest import CATALOG, PROFILE, T, access_rows, req, with_keys, write_lake

#: the world of conftest plus one forged read logged as an IPv4-mapped IPv6 address
MAPPED = req(T(15, 6), PROFILE, actor_id="c13", src_ip="::ffff:203.0.113.9", credential_id="forged-m", token_kid="k-old")
#: and one more in another spelling of the same prefix (hex, the long form), on a known account
MAPPED_HEX = req(T(15, 7), PROFILE, actor_id="c13", src_ip="0:0:0:0:0:ffff:cb00:7109", credential_id="forged-m",
                 token_kid="k-old")

CASES = [  # (CIDR, requests, accounts)
    ("203.0.113.0/24", 8, 4),       # .7, .9 and the mapped .9 in two spellings
    ("203.0.113.8/30", 4, 3),       # .9 and mapped .9 only: a prefix that does not end on an octet
    ("203.0.113.0/29", 4, 2),       # .7 only
    ("10.0.0.0/8", 11, 5),
    ("0.0.0.0/0", 24, 11),          # every IPv4 request, mapped included, not the IPv6 one
    ("192.0.2.0/24", 0, 0),         # nothing: a clear error, never an empty result
    ("2001:db8::/32", 1, 1),        # IPv6 stays on the address text
]


def ipv4_number(text: str | None) -> int | None:
    """What the lake stores in src_ip_v4."""
    if text is None:
        return None
    address = ipaddress.ip_address(text)
    if address.version == 6:
        address = address.ipv4_mapped
    return int(address) if address is not None else None


def access_table() -> pa.Table:
    return with_keys("access", access_rows() + [MAPPED, MAPPED_HEX])


def with_v4(table: pa.Table) -> pa.Table:
    numbers = [ipv4_number(a) for a in table.column("src_ip").to_pylist()]
    return table.append_column("src_ip_v4", pa.array(numbers, pa.int64()))


def store(workspace, v4_days: set[str]):
    """The access lake, one file per day: days in ``v4_days`` written (seq 2) with src_ip_v4,
    the others (seq 1) as files stored before the lake kept it."""
    table = access_table()
    days = pc.strftime(table.column("time"), format="%Y-%m-%d")
    for day in sorted(set(days.to_pylist())):
        part = table.filter(pc.equal(days, day))
        new = day in v4_days
        write_lake(workspace, "access", with_v4(part) if new else part, seq=2 if new else 1)
    write_lake(workspace, "catalog", with_keys("catalog", CATALOG))
    return workspace


def outcome(engine, workspace, cidr):
    try:
        result = scope(engine, workspace, Selector("src_ip", cidr))
    except Exception as exc:  # noqa: BLE001 - the message is what is compared
        return type(exc).__name__, str(exc)
    return result.to_json(), accounts_table(engine, result).to_pylist()


LAKES = {"old files only": set(), "new files only": {"2025-04-13", "2025-04-14", "2025-04-15"},
         "mixed": {"2025-04-14"}}


@pytest.mark.parametrize("lake", list(LAKES))
@pytest.mark.parametrize("cidr, requests, accounts", CASES)
def test_cidr_is_exact_on_old_new_and_mixed_lakes(workspace, lake, cidr, requests, accounts):
    store(workspace, LAKES[lake])
    with connect(workspace, "duckdb") as engine:
        if not requests:
            with pytest.raises(Exception, match=f"--src-ip {cidr} matches no access request"):
                scope(engine, workspace, Selector("src_ip", cidr))
            return
        r = scope(engine, workspace, Selector("src_ip", cidr))
        assert (r.requests, r.accounts) == (requests, accounts)


def test_every_lake_shape_gives_the_same_answer_to_the_last_figure(tmp_path):
    from custodes.workspace import Workspace

    answers = {}
    for n, (lake, days) in enumerate(LAKES.items()):
        ws = Workspace(tmp_path / f"w{n}")
        store(ws, days)
        with connect(ws, "duckdb") as engine:
            answers[lake] = [outcome(engine, ws, cidr) for cidr, *_ in CASES]
    assert answers["new files only"] == answers["old files only"] == answers["mixed"]


def _sql(engine, workspace, cidr) -> str:
    return str(ibis.to_sql(select_requests(engine, workspace, Selector("src_ip", cidr))))


def test_new_files_only_is_one_integer_range_filter(workspace):
    store(workspace, LAKES["new files only"])
    with connect(workspace, "duckdb") as engine:
        assert engine.rows_without("access", "src_ip_v4").none
        sql = _sql(engine, workspace, "203.0.113.0/24")
    assert f"BETWEEN {int(ipaddress.ip_address('203.0.113.0'))} AND {int(ipaddress.ip_address('203.0.113.255'))}" in sql
    assert "src_ip_key" not in sql and "STARTS_WITH" not in sql.upper()


def test_mixed_lake_reads_address_text_only_for_the_older_ingests(workspace):
    store(workspace, LAKES["mixed"])
    with connect(workspace, "duckdb") as engine:
        assert engine.rows_without("access", "src_ip_v4").seqs == frozenset({1})
        sql = _sql(engine, workspace, "203.0.113.0/24")
    assert "src_ip_v4" in sql and "_seq" in sql and "src_ip_key" in sql


def test_legacy_rows_reads_footers_of_stored_files(workspace):
    store(workspace, LAKES["mixed"])
    with connect(workspace, "duckdb") as engine:
        assert engine.rows_without("access", "src_ip_v4").seqs == frozenset({1})
    for path in workspace.dataset_dir("access").rglob("*.parquet"):  # a file without _seq statistics
        table = pq.read_table(path)
        if "src_ip_v4" not in table.column_names:
            pq.write_table(table, path, write_statistics=False)
    with connect(workspace, "duckdb") as engine:
        assert engine.rows_without("access", "src_ip_v4").seqs is None  # unknown: every NULL row is treated as older
        assert scope(engine, workspace, Selector("src_ip", "203.0.113.0/24")).requests == 8


def test_table_in_memory_with_some_numbers_missing(workspace):
    table = with_v4(access_table())
    numbers = table.column("src_ip_v4").to_pylist()
    half = [n if i % 2 else None for i, n in enumerate(numbers)]  # as if half came from older files
    table = table.set_column(table.column_names.index("src_ip_v4"), "src_ip_v4", pa.array(half, pa.int64()))
    with connect(workspace, "duckdb") as engine:
        engine.register("access", table)
        engine.register("catalog", with_keys("catalog", CATALOG))
        for cidr, requests, _accounts in CASES:
            if requests:
                assert scope(engine, workspace, Selector("src_ip", cidr)).requests == requests, cidr


@pytest.mark.spark
def test_spark_agrees_with_duckdb_on_a_mixed_lake(spark_engine, workspace, monkeypatch):
    from custodes.respond import selector

    store(workspace, LAKES["mixed"])
    spark = connect(workspace, "spark")  # the session of spark_engine, reading this lake
    with connect(workspace, "duckdb") as duck:
        for cidr in ("203.0.113.0/24", "203.0.113.8/30", "10.0.0.0/8"):
            assert outcome(spark, workspace, cidr) == outcome(duck, workspace, cidr), cidr
        monkeypatch.setattr(selector, "MAX_KEYED_ADDRESSES", 0)  # older rows by their text, one pass
        assert outcome(spark, workspace, "203.0.113.8/30") == outcome(duck, workspace, "203.0.113.8/30")
