"""Bad rows are quarantined with file, row, column and reason; the rest loads; a file that is
not what it claims is one clear error."""

from __future__ import annotations

import ipaddress
import json

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings, strategies as st

from custodes.errors import CustodesError
from custodes.lake import ingest, quarantined
from custodes.lake.validate import IPV4, IPV6

from .conftest import access_row, write_csv, write_jsonl

BAD = [
    (access_row(1, time=""), "time", "missing"),
    (access_row(2, time="14/04/2025 03:12"), "time", "bad_time"),
    (access_row(3, time="2025-04-14T03:12:09"), "time", "time_no_zone"),
    (access_row(4, time="2025-02-30T00:00:00Z"), "time", "bad_time"),
    (access_row(5, src_ip="203.0.113.256"), "src_ip", "bad_ip"),
    (access_row(6, src_ip="2001:db8:::1"), "src_ip", "bad_ip"),
    (access_row(7, actor_type="robot"), "actor_type", "bad_enum"),
    (access_row(8, credential_type="password"), "credential_type", "bad_enum"),
    (access_row(9, status="2OO"), "status", "bad_int"),
    (access_row(10, asn="1.5"), "asn", "bad_int"),
    (access_row(11, route=""), "route", "missing"),
]


def test_each_reason_is_quarantined_with_file_row_and_column(workspace, files):
    rows = [access_row(0)] + [r for r, _, _ in BAD] + [access_row(99)]
    path = write_csv(files / "mixed.csv", rows)
    report = ingest(workspace, "access", [path])
    assert report.rows == 2 and report.quarantined == len(BAD)
    got = [(q["file"], q["row"], q["column"], q["reason"]) for q in quarantined(workspace, "access").to_pylist()]
    assert got == [(str(path), i + 2, col, reason) for i, (_, col, reason) in enumerate(BAD)]
    assert report.reasons == {"bad_enum": 2, "bad_int": 2, "bad_ip": 2, "bad_time": 2, "missing": 2, "time_no_zone": 1}
    q = next(workspace.quarantine.rglob("q-*.parquet"))
    assert q.stat().st_mode & 0o777 == 0o600  # bad rows are personal data too


def test_quarantine_keeps_the_offending_value(workspace, files):
    ingest(workspace, "access", [write_csv(files / "a.csv", [access_row(1, src_ip="not-an-ip")])])
    (q,) = quarantined(workspace).to_pylist()
    assert (q["dataset"], q["column"], q["reason"], q["value"]) == ("access", "src_ip", "bad_ip", "not-an-ip")


def test_bad_json_lines_and_bools(workspace, files):
    lines = [json.dumps(access_row(1)), '{"time": "2025-04-14T00:00:00Z", "src_ip": ', "[1, 2]",
             json.dumps(access_row(4))]
    report = ingest(workspace, "access", [write_jsonl(files / "a.jsonl", lines)])
    assert report.rows == 2 and report.reasons == {"bad_json": 2}
    assert [q["row"] for q in quarantined(workspace).to_pylist()] == [2, 3]



def test_bad_bool_and_empty_catalog_fields(workspace, files):
    write_csv(files / "catalog.csv", [{"route": "/a", "fields": "name", "bulk": "yes"},
                                      {"route": "/b", "fields": "email", "bulk": "maybe"},
                                      {"route": "/home", "fields": "", "bulk": "false"},
                                      {"route": "", "fields": "", "bulk": "false"}])
    report = ingest(workspace, "catalog", [files / "catalog.csv"])
    # an empty `fields` is a route returning no personal data (CONTRACT.md §1), not a missing value
    assert report.rows == 2 and report.reasons == {"bad_bool": 1, "missing": 1}
    from custodes.engine import connect

    with connect(workspace, "duckdb") as engine:
        rows = {r["route"]: (r["fields"], r["bulk"]) for r in engine.to_arrow(engine.table("catalog")).to_pylist()}
    assert rows == {"/a": ("name", True), "/home": ("", False)}


def test_missing_required_column_is_one_clear_error(workspace, files):
    rows = [{k: v for k, v in access_row(1).items() if k != "route"}]
    with pytest.raises(CustodesError, match=r"no_route\.csv: missing required column 'route'"):
        ingest(workspace, "access", [write_csv(files / "no_route.csv", rows)])
    with pytest.raises(CustodesError, match=r"no_route\.jsonl: missing required column 'route'"):
        ingest(workspace, "access", [write_jsonl(files / "no_route.jsonl", rows)])
    assert not list(workspace.lake.rglob("*.parquet"))  # nothing half-loaded


@pytest.mark.parametrize("name,content,message", [
    ("junk.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 50, "not a CSV file"),
    ("junk.jsonl", b"\x00\x01\x02\x03" * 100, "not a JSON file"),
    ("trunc.parquet", b"PAR1" + b"\x00" * 100, "not a valid Parquet file"),
])
def test_a_file_that_is_not_what_it_claims(workspace, files, name, content, message):
    (files / name).write_bytes(content)
    with pytest.raises(CustodesError, match=message):
        ingest(workspace, "access", [files / name])


def test_truncated_parquet_from_a_real_file(workspace, files, tmp_path):
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"x": list(range(10_000))}), tmp_path / "full.parquet")
    data = (tmp_path / "full.parquet").read_bytes()
    (files / "cut.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(CustodesError, match="cut.parquet: not a valid Parquet file"):
        ingest(workspace, "access", [files / "cut.parquet"])


def test_unknown_dataset_and_missing_path(workspace, files):
    from custodes.errors import UsageError

    with pytest.raises(UsageError):
        ingest(workspace, "accesss", [files])
    with pytest.raises(CustodesError, match="no such file"):
        ingest(workspace, "access", [files / "nope.csv"])


# The IP checks are regular expressions (vectorised in DuckDB); they must agree with Python's
# own parser on every address, and on near-misses.
_con = duckdb.connect()


def _db_is_ip(values: list[str]) -> list[bool]:
    _con.register("t", pa.table({"v": pa.array(values, pa.string())}))
    q = f"SELECT regexp_full_match(v, '{IPV4}') OR regexp_full_match(v, '{IPV6}') FROM t"
    return [r[0] for r in _con.execute(q).fetchall()]


def _py_is_ip(v: str) -> bool:
    try:
        ipaddress.ip_address(v)
    except ValueError:
        return False
    return "%" not in v


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(
    st.ip_addresses().map(str),
    st.ip_addresses(v=6).map(lambda a: a.exploded),
    st.text(alphabet="0123456789abcdef:.", min_size=1, max_size=41),
), min_size=1, max_size=40))
def test_ip_check_agrees_with_python(values):
    assert _db_is_ip(values) == [_py_is_ip(v) for v in values]
