"""Unknown source fields are kept in ``_extra`` (JSON text, NULL when none); a CSV record with the
wrong number of fields, or a quote that never closes, is quarantined alone (``bad_row``)."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.parquet as pq

from custodes.engine import connect
from custodes.lake import ingest, quarantined

from .conftest import access_row, write_csv, write_jsonl

UTC = dt.timezone.utc
HEADER = "time,src_ip,method,route,status,actor_type,credential_type"


def _stored(ws, *cols, dataset="access"):
    with connect(ws, "duckdb") as engine:
        rows = engine.to_arrow(engine.table(dataset).select("_row", *cols)).to_pylist()
    return {r["_row"]: r for r in rows}


def _extra(r):
    return None if r["_extra"] is None else json.loads(r["_extra"])


def test_csv_unknown_columns_are_kept_as_json(workspace, files):
    rows = [access_row(1, region="eu", shard="7"), access_row(2, region="", shard="")]
    ingest(workspace, "access", [write_csv(files / "a.csv", rows)])
    got = _stored(workspace, "_extra", "request_id")
    assert _extra(got[1]) == {"region": "eu", "shard": "7"}  # CSV values are text, as given
    assert got[2]["_extra"] is None  # empty fields are missing values: nothing unknown to keep
    assert got[1]["request_id"] == "r-1"


def test_csv_without_unknown_columns_stores_null(workspace, files):
    ingest(workspace, "access", [write_csv(files / "a.csv", [access_row(1)])])
    assert _stored(workspace, "_extra")[1]["_extra"] is None


def test_jsonl_unknown_members_are_kept_nested_and_typed(workspace, files):
    lines = [dict(access_row(1), region="eu", tls={"version": "1.3", "resumed": True}, ms=12.5),
             access_row(2),
             dict(access_row(3), device_id=None)]  # a known member set to null: still nothing unknown
    ingest(workspace, "access", [write_jsonl(files / "a.jsonl", lines)])
    got = _stored(workspace, "_extra")
    assert _extra(got[1]) == {"region": "eu", "tls": {"version": "1.3", "resumed": True}, "ms": 12.5}
    assert got[2]["_extra"] is None and got[3]["_extra"] is None


def test_jsonl_with_a_mapping_keeps_unread_nested_members(workspace, files, tmp_path):
    mapping = tmp_path / "m.yaml"
    mapping.write_text("time: ts\nsrc_ip: remote_addr\nmethod: req.method\nroute: req.path\nstatus: status\n"
                       "actor_type: {const: customer}\ncredential_type: {const: access_token}\nactor_id: jwt.sub\n")
    line = {"ts": "2025-04-14T00:00:00Z", "remote_addr": "10.1.2.3", "req": {"method": "GET", "path": "/a"},
            "status": 200, "jwt": {"sub": "c-1", "iss": "https://idp"}, "upstream": "10.9.9.9:8080"}
    ingest(workspace, "access", [write_jsonl(files / "a.jsonl", [line])], mapping=mapping)
    got = _stored(workspace, "_extra", "actor_id", "src_ip_v4")[1]
    assert got["actor_id"] == "c-1" and got["src_ip_v4"] == 0x0A010203
    assert _extra(got) == {"req": {}, "jwt": {"iss": "https://idp"}, "upstream": "10.9.9.9:8080"}


def test_jsonl_member_read_whole_and_by_a_path_inside_still_finds_unknown_members(workspace, files, tmp_path):
    """``request`` read whole (user_agent) and ``request.path`` read too: one member, counted
    once, so a single unknown member beside it is still seen."""
    mapping = tmp_path / "m.yaml"
    mapping.write_text("user_agent: request\nroute: request.path\n")
    line = {"time": "2025-04-14T00:00:00Z", "src_ip": "203.0.113.1", "method": "GET", "status": 200,
            "actor_type": "service", "credential_type": "mtls",
            "request": {"ua": "ua/1", "path": "/x"}, "unknown": "keep-me"}
    ingest(workspace, "access", [write_jsonl(files / "a.jsonl", [line])], mapping=mapping)
    got = _stored(workspace, "_extra", "route")[1]
    assert got["route"] == "/x" and _extra(got) == {"unknown": "keep-me"}


def test_parquet_unknown_columns_keep_their_types(workspace, files):
    table = pa.table({
        "time": pa.array([dt.datetime(2025, 4, 14, 1, tzinfo=UTC)] * 2, pa.timestamp("us", tz="UTC")),
        "src_ip": ["198.51.100.1", "198.51.100.2"], "method": ["GET", "GET"], "route": ["/a", "/a"],
        "status": [200, 200], "actor_type": ["service", "service"], "credential_type": ["mtls", "mtls"],
        "latency_ms": pa.array([12, None], pa.int32()), "pop": ["icn1", None],
    })
    pq.write_table(table, files / "a.parquet")
    ingest(workspace, "access", [files / "a.parquet"])
    got = _stored(workspace, "_extra")
    assert _extra(got[1]) == {"latency_ms": 12, "pop": "icn1"}
    assert got[2]["_extra"] is None


def test_a_csv_row_with_the_wrong_number_of_fields_is_quarantined_alone(workspace, files):
    lines = [HEADER,
             "2025-04-14T00:00:01Z,10.0.0.1,GET,/a,200,customer,none",
             "2025-04-14T00:00:02Z,10.0.0.2,GET,/a,200,customer",               # one field short
             "",                                                                # blank: not a row
             '2025-04-14T00:00:03Z,10.0.0.3,GET,"/a,\nb",200,customer,none',    # quoted comma and newline
             "2025-04-14T00:00:04Z,10.0.0.4,GET,/a,200,customer,none,surplus",  # one too many
             "2025-04-14T00:00:05Z,10.0.0.5,GET,/a,200,customer,none"]
    path = files / "a.csv"
    path.write_text("\r\n".join(lines) + "\r\n")
    report = ingest(workspace, "access", [path])
    assert (report.rows, report.reasons) == (3, {"bad_row": 2})
    q = [(r["file"], r["row"], r["column"], r["reason"], r["value"]) for r in quarantined(workspace).to_pylist()]
    assert q == [(str(path), 2, "", "bad_row", lines[2]), (str(path), 4, "", "bad_row", lines[5])]
    got = _stored(workspace, "route", "src_ip")
    assert sorted(got) == [1, 3, 5] and got[3]["route"] == "/a,\nb" and got[5]["src_ip"] == "10.0.0.5"


def test_bad_rows_far_into_a_file_keep_every_row_number(workspace, files):
    rows = [f"2025-04-14T00:00:{i % 60:02d}Z,10.0.{i // 250}.{i % 250},GET,/a,200,customer,none" for i in range(1, 20001)]
    bad = {5000, 12345, 19999}
    for i in bad:
        rows[i - 1] += ",x"
    path = files / "big.csv"
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    report = ingest(workspace, "access", [path], batch_rows=512)  # many blocks: rows are numbered across them
    assert (report.rows, report.quarantined) == (20000 - len(bad), len(bad))
    assert sorted(q["row"] for q in quarantined(workspace).to_pylist()) == sorted(bad)
    got = _stored(workspace, "src_ip")
    assert len(got) == 20000 - len(bad) and not bad & set(got)
    assert got[12346]["src_ip"] == "10.0.49.96"  # the row after a bad one is still itself


def test_an_unterminated_quote_quarantines_its_record(workspace, files):
    path = files / "a.csv"
    path.write_text(HEADER + "\n2025-04-14T00:00:01Z,10.0.0.1,GET,/a,200,customer,none\n"
                    '2025-04-14T00:00:02Z,10.0.0.2,GET,"/never closed,200,customer,none\n')
    report = ingest(workspace, "access", [path])
    assert (report.rows, report.reasons) == (1, {"bad_row": 1})
    (q,) = quarantined(workspace).to_pylist()
    assert q["row"] == 2 and q["value"].startswith("2025-04-14T00:00:02Z,10.0.0.2,GET,\"/never closed")


def test_a_jsonl_line_that_is_not_json_is_quarantined_alone(workspace, files):
    lines = [json.dumps(access_row(1)), "this is not json", json.dumps(access_row(3)), '{"time": ']
    report = ingest(workspace, "access", [write_jsonl(files / "a.jsonl", lines)])
    assert (report.rows, report.reasons) == (2, {"bad_json": 2})
    assert sorted(_stored(workspace)) == [1, 3]


def test_empty_strings_are_missing_values_in_every_format(workspace, files):
    table = pa.table({
        "time": pa.array([dt.datetime(2025, 4, 14, 1, tzinfo=UTC)] * 2, pa.timestamp("us", tz="UTC")),
        "src_ip": ["198.51.100.1", "198.51.100.2"], "method": ["GET", ""], "route": ["/a", "/a"],
        "status": [200, 200], "actor_type": ["service", "service"], "credential_type": ["mtls", "mtls"],
        "device_id": ["", "d-1"], "user_agent": ["ua", ""],
    })
    pq.write_table(table, files / "a.parquet")
    report = ingest(workspace, "access", [files / "a.parquet"])
    assert (report.rows, report.reasons) == (1, {"missing": 1})  # method is required
    got = _stored(workspace, "device_id", "device_id_key", "user_agent")[1]
    assert got["device_id"] is None and got["device_id_key"] is None and got["user_agent"] == "ua"
