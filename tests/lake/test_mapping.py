"""--map FILE: real gateway logs load without a custom script."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from custodes.engine import connect
from custodes.errors import CustodesError
from custodes.lake import ingest

from .conftest import write_csv, write_jsonl

UTC = dt.timezone.utc

NGINX_MAP = """\
time: time_iso8601
src_ip: remote_addr
method: request_method
route: uri
status: status
bytes_out: body_bytes_sent
user_agent: http_user_agent
request_id: request_id
actor_id: jwt.sub
credential_id: jwt.jti
token_kid: jwt.kid
actor_type: {path: jwt.actor_type, default: customer}
credential_type: {const: access_token}
"""


def nginx_line(i, **over):
    line = {"time_iso8601": f"2025-04-14T12:00:0{i}+09:00", "remote_addr": f"203.0.113.{i}",
            "request_method": "GET", "uri": "/api/v1/me/addresses", "status": "200", "body_bytes_sent": "1520",
            "http_user_agent": "Mozilla/5.0", "request_id": f"abc{i}",
            "jwt": {"sub": f"c-{i}", "jti": f"t-{i}", "kid": "k-2019"}}
    line.update(over)
    return line


def test_nginx_json_access_log(workspace, files):
    (files / "nginx.yaml").write_text(NGINX_MAP)
    lines = [nginx_line(1), nginx_line(2, jwt={"sub": "svc", "jti": "t-2", "kid": "k-2019", "actor_type": "service"}),
             nginx_line(3, remote_addr="-")]
    path = write_jsonl(files / "access.log.json", lines)
    report = ingest(workspace, "access", [path], fmt="jsonl", mapping=files / "nginx.yaml")
    assert (report.rows, report.reasons) == (2, {"bad_ip": 1})
    with connect(workspace, "duckdb") as engine:
        rows = sorted(engine.to_arrow(engine.table("access")).to_pylist(), key=lambda r: r["_row"])
    first, second = rows
    assert first["time"] == dt.datetime(2025, 4, 14, 3, 0, 1, tzinfo=UTC)
    assert (first["actor_type"], first["credential_type"], first["actor_id"], first["account_id"]) == \
        ("customer", "access_token", "c-1", "c-1")
    assert (first["credential_id"], first["token_kid"], first["bytes_out"], first["route"]) == \
        ("t-1", "k-2019", 1520, "/api/v1/me/addresses")
    assert (second["actor_type"], second["account_id"]) == ("service", None)


def test_csv_columns_renamed(workspace, files):
    (files / "idp.yaml").write_text("token_id: jti\nsubject: sub\nkid: key_id\ntime: issued\niat: issued\n"
                                    "exp: expires\nactor_type: {const: employee}\n")
    write_csv(files / "idp.csv", [{"jti": "t1", "sub": "e-1", "key_id": "k1", "issued": "1744588800",
                                   "expires": "1744592400"}])
    report = ingest(workspace, "issuance", [files / "idp.csv"], mapping=files / "idp.yaml")
    assert (report.rows, report.quarantined) == (1, 0)


@pytest.mark.parametrize("text,message", [
    ("tim: ts\n", "'tim' is not a column of access"),
    ("time: [a, b]\n", "expected a source name"),
    ("- time\n", "a mapping file is a YAML mapping"),
    ("time: {path: ts, extra: 1}\n", "expected a source name"),
])
def test_bad_mapping_files(workspace, files, text, message):
    (files / "m.yaml").write_text(text)
    write_csv(files / "a.csv", [{"ts": "2025-04-14T00:00:00Z"}])
    with pytest.raises(CustodesError, match=message):
        ingest(workspace, "access", [files / "a.csv"], mapping=files / "m.yaml")


def test_mapping_to_a_column_the_file_lacks(workspace, files):
    (files / "m.yaml").write_text("src_ip: client\n")
    write_csv(files / "a.csv", [{"time": "2025-04-14T00:00:00Z", "src_ip": "10.0.0.1"}])
    with pytest.raises(CustodesError, match=r"a.csv: the mapping takes src_ip from column 'client'"):
        ingest(workspace, "access", [files / "a.csv"], mapping=files / "m.yaml")


def test_ocsf_mapping_overrides_an_attribute(workspace, files):
    event = {"class_uid": 6003, "time": 1744588800000, "src_endpoint": {"ip": "10.0.0.1"},
             "http_request": {"http_method": "GET", "url": {"path": "/x"}}, "http_response": {"code": 200},
             "metadata": {"tenant": "c-9"},
             "unmapped": {"actor_type": "customer", "credential_type": "access_token"}}
    (files / "m.yaml").write_text("actor_id: metadata.tenant\n")
    ingest(workspace, "access", [write_jsonl(files / "e.jsonl", [json.dumps(event)])], fmt="ocsf",
           mapping=files / "m.yaml")
    with connect(workspace, "duckdb") as engine:
        (row,) = engine.to_arrow(engine.table("access")).to_pylist()
    assert row["actor_id"] == "c-9" and row["account_id"] == "c-9"


# Mapping mistakes are errors, never silent NULLs ---------------------------------------------------
def _extras(ws) -> dict[int, dict | None]:
    with connect(ws, "duckdb") as engine:
        rows = engine.to_arrow(engine.table("access").select("_row", "_extra", "actor_id")).to_pylist()
    return {r["_row"]: (r["actor_id"], None if r["_extra"] is None else json.loads(r["_extra"])) for r in rows}


def test_a_mapped_path_that_no_row_has_is_an_error_naming_it(workspace, files):
    (files / "nginx.yaml").write_text(NGINX_MAP)
    lines = [{k: v for k, v in nginx_line(i).items() if k != "jwt"} for i in range(1, 4)]  # the gateway logs no jwt
    with pytest.raises(CustodesError, match=r"access\.log: the mapping takes actor_id from 'jwt\.sub', "
                                            r"which no row of the first 3 has"):
        ingest(workspace, "access", [write_jsonl(files / "access.log", lines)], fmt="jsonl",
               mapping=files / "nginx.yaml")


def test_a_path_marked_optional_may_be_absent_and_makes_up_nothing(workspace, files):
    (files / "m.yaml").write_text(NGINX_MAP.replace("actor_id: jwt.sub", "actor_id: {path: jwt.sub, optional: true}")
                                  .replace("credential_id: jwt.jti\ntoken_kid: jwt.kid\n", ""))
    lines = [dict({k: v for k, v in nginx_line(i).items() if k != "jwt"}, region="eu") for i in range(1, 3)]
    report = ingest(workspace, "access", [write_jsonl(files / "a.log", lines)], fmt="jsonl", mapping=files / "m.yaml")
    assert (report.rows, report.quarantined) == (2, 0)
    assert _extras(workspace) == {1: (None, {"region": "eu"}), 2: (None, {"region": "eu"})}  # no "jwt": {}


def test_a_line_without_the_object_others_have_gets_no_made_up_member(workspace, files):
    (files / "nginx.yaml").write_text(NGINX_MAP)
    no_jwt = {k: v for k, v in nginx_line(2).items() if k != "jwt"}
    report = ingest(workspace, "access", [write_jsonl(files / "a.log", [nginx_line(1), no_jwt])], fmt="jsonl",
                    mapping=files / "nginx.yaml")
    assert report.rows == 2
    got = _extras(workspace)
    assert got[1] == ("c-1", {"jwt": {}}) and got[2] == (None, None)


def test_a_key_given_twice_is_an_error_naming_it(workspace, files):
    (files / "m.yaml").write_text("time: ts\nsrc_ip: client\nactor_id: jwt.sub\nactor_id: sub\n")
    write_csv(files / "a.csv", [{"ts": "2025-04-14T00:00:00Z"}])
    with pytest.raises(CustodesError, match=r"m\.yaml: key 'actor_id' given twice \(lines 3 and 4\)"):
        ingest(workspace, "access", [files / "a.csv"], mapping=files / "m.yaml")
