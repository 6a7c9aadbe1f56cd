"""Every input format lands as the same typed, keyed rows in the layout readers rely on."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from custodes import contract, ids
from custodes.engine import connect
from custodes.lake import ingest, status, verify
from custodes.lake.store import stored_schema

from .conftest import access_row, write_csv, write_jsonl

UTC = dt.timezone.utc


def _rows(ws, dataset="access"):
    with connect(ws, "duckdb") as engine:
        t = engine.table(dataset)
        return sorted(engine.to_arrow(t).to_pylist(), key=lambda r: r["_row"])


def test_csv_rows_are_typed_keyed_and_partitioned_by_day(workspace, files):
    rows = [access_row(i) for i in range(5)] + [access_row(5, time="2025-04-15T23:59:59+09:00")]
    report = ingest(workspace, "access", [write_csv(files / "a.csv", rows)])
    assert (report.rows, report.quarantined) == (6, 0)
    stored = _rows(workspace)
    first = stored[0]
    assert first["time"] == dt.datetime(2025, 4, 14, 0, 0, 0, tzinfo=UTC)
    assert first["status"] == 200 and first["asn"] == 4766 and first["record_count"] == 1
    assert first["src_ip_key"] == ids.key_of("203.0.113.0")
    assert first["request_id_key"] == ids.key_of("r-0") and first["user_agent_key"] == ids.key_of("app/1.0")
    assert first["device_id"] is None and first["device_id_key"] is None
    assert [r["_row"] for r in stored] == [1, 2, 3, 4, 5, 6] and {r["_seq"] for r in stored} == {1}
    # +09:00 on the 15th is 14:59:59 UTC on the 15th: normalised, and partitioned by the UTC day
    assert stored[5]["time"] == dt.datetime(2025, 4, 15, 14, 59, 59, tzinfo=UTC)
    days = sorted(p.parent.name for p in workspace.dataset_dir("access").rglob("part-*.parquet"))
    assert days == ["date=2025-04-14", "date=2025-04-15"]


def test_stored_files_have_the_documented_columns_in_order(workspace, files):
    ingest(workspace, "access", [write_csv(files / "a.csv", [access_row(1)])])
    path = next(workspace.dataset_dir("access").rglob("part-*.parquet"))
    schema = pq.read_schema(path)
    names = [c.name for c in contract.columns("access")]
    names += [f"{k}_key" for k in ids.KEYED_COLUMNS["access"]] + ["src_ip_v4", "_seq", "_row", "_extra"]
    assert schema.names == names
    assert schema.field("time").type == pa.timestamp("us", tz="UTC")
    assert schema.equals(stored_schema("access"), check_metadata=False)
    assert path.stat().st_mode & 0o777 == 0o600  # personal data


def test_jsonl_numbers_rows_by_line_and_reads_epochs(workspace, files):
    lines = [json.dumps(access_row(0, time=1744588800, status=200, asn=4766)), "",
             json.dumps(access_row(1, time=1744588800123, status=201))]
    ingest(workspace, "access", [write_jsonl(files / "a.jsonl", lines)])
    stored = _rows(workspace)
    assert [r["_row"] for r in stored] == [1, 3]  # the blank line 2 is not a row, but counts as a line
    assert stored[0]["time"] == dt.datetime(2025, 4, 14, 0, 0, tzinfo=UTC)  # epoch seconds
    assert stored[1]["time"] == dt.datetime(2025, 4, 14, 0, 0, 0, 123000, tzinfo=UTC)  # epoch ms
    assert stored[1]["status"] == 201


def test_parquet_with_native_types(workspace, files):
    table = pa.table({
        "time": pa.array([dt.datetime(2025, 4, 14, 1, tzinfo=UTC), dt.datetime(2025, 4, 14, 2, tzinfo=UTC)],
                         pa.timestamp("ms", tz="UTC")),
        "src_ip": ["198.51.100.1", "2001:db8::7"], "method": ["GET", "POST"], "route": ["/a", "/b"],
        "status": pa.array([200, 500], pa.int32()), "actor_type": ["service", "employee"],
        "credential_type": ["mtls", "session"], "actor_id": ["batch", "e-1"],
    })
    pq.write_table(table, files / "a.parquet")
    report = ingest(workspace, "access", [files / "a.parquet"])
    assert (report.rows, report.quarantined) == (2, 0)
    stored = _rows(workspace)
    assert [r["status"] for r in stored] == [500, 200] or [r["status"] for r in stored] == [200, 500]
    by_row = {r["_row"]: r for r in stored}
    assert by_row[2]["src_ip"] == "2001:db8::7" and by_row[2]["account_id"] is None
    assert by_row[1]["record_count"] is None  # a service request touches no customer account


def test_parquet_zone_less_timestamps_are_refused(workspace, files):
    table = pa.table({"time": pa.array([dt.datetime(2025, 4, 14, 1)], pa.timestamp("us")), "src_ip": ["10.0.0.1"],
                      "method": ["GET"], "route": ["/a"], "status": [200], "actor_type": ["customer"],
                      "credential_type": ["none"]})
    pq.write_table(table, files / "naive.parquet")
    report = ingest(workspace, "access", [files / "naive.parquet"])
    assert (report.rows, report.reasons) == (0, {"time_no_zone": 1})


OCSF_API = {
    "class_uid": 6003, "time": 1744592400000, "activity_id": 2,
    "api": {"request": {"uid": "req-9"}, "operation": "GET"},
    "src_endpoint": {"ip": "192.0.2.44", "location": {"country": "NL"}, "autonomous_system": {"number": 64500}},
    "http_request": {"http_method": "GET", "user_agent": "curl/8", "url": {"path": "/api/v1/me/orders"}},
    "http_response": {"code": 200, "length": 512},
    "actor": {"user": {"uid": "c-42"}, "session": {"uid": "s-1", "credential_uid": "jti-77",
                                                     "expiration_time": 1744596000000}},
    "unmapped": {"actor_type": "customer", "credential_type": "access_token", "token_kid": "k-2019"},
}


def test_ocsf_api_activity_json_array(workspace, files):
    other = dict(OCSF_API, class_uid=3002)
    (files / "events.json").write_text(json.dumps([OCSF_API, other], indent=2))
    report = ingest(workspace, "access", [files / "events.json"], fmt="ocsf")
    assert (report.rows, report.reasons) == (1, {"wrong_class": 1})
    r = _rows(workspace)[0]
    assert r["time"] == dt.datetime(2025, 4, 14, 1, 0, tzinfo=UTC)
    assert (r["src_ip"], r["geo_country"], r["asn"], r["route"], r["status"], r["bytes_out"]) == \
        ("192.0.2.44", "NL", 64500, "/api/v1/me/orders", 200, 512)
    assert (r["actor_id"], r["account_id"], r["credential_id"], r["session_id"], r["token_kid"]) == \
        ("c-42", "c-42", "jti-77", "s-1", "k-2019")
    assert r["token_exp"] == dt.datetime(2025, 4, 14, 2, 0, tzinfo=UTC)
    assert r["request_id"] == "req-9" and r["user_agent"] == "curl/8"


def test_ocsf_authentication_lines_become_issuance(workspace, files):
    event = {
        "class_uid": 3002, "time": "2025-04-14T00:00:00Z", "user": {"uid": "c-1"},
        "session": {"uid": "s-1", "credential_uid": "jti-1", "created_time": 1744588800000,
                    "expiration_time": 1744592400000},
        "src_endpoint": {"ip": "198.51.100.9"},
        "unmapped": {"kid": "k-2024", "actor_type": "customer", "grant": "password"},
    }
    report = ingest(workspace, "issuance", [write_jsonl(files / "auth.ocsf", [event])])
    assert (report.rows, report.quarantined) == (1, 0)
    r = _rows(workspace, "issuance")[0]
    assert (r["token_id"], r["subject"], r["kid"], r["grant"], r["session_id"]) == ("jti-1", "c-1", "k-2024", "password", "s-1")
    assert r["exp"] - r["iat"] == dt.timedelta(hours=1)
    assert r["token_id_key"] == ids.key_of("jti-1")


def test_directories_and_globs_and_reference_snapshots(workspace, files):
    write_csv(files / "w1.csv", [{"employee_id": "e1", "hired_at": "2020-01-01T00:00:00Z", "terminated_at": ""},
                                  {"employee_id": "e2", "hired_at": "2021-01-01T00:00:00Z", "terminated_at": ""}])
    ingest(workspace, "workforce", [files])
    later = files.parent / "later"
    later.mkdir()
    write_csv(later / "w2.csv", [{"employee_id": "e1", "hired_at": "2020-01-01T00:00:00Z",
                                  "terminated_at": "2024-12-31T00:00:00Z"}])
    ingest(workspace, "workforce", [str(later / "*.csv")])
    parts = sorted(p.name for p in workspace.dataset_dir("workforce").glob("part-*.parquet"))
    assert parts == ["part-0000000001-0000.parquet", "part-0000000002-0000.parquet"]  # no date partition
    with connect(workspace, "duckdb") as engine:
        current = {r["employee_id"]: r["terminated_at"] for r in engine.to_arrow(engine.table("workforce")).to_pylist()}
    assert current == {"e1": dt.datetime(2024, 12, 31, tzinfo=UTC), "e2": None}
    s = status(workspace)["datasets"]["workforce"]
    assert (s["rows"], s["files"], s["first_time"]) == (3, 2, None)


@pytest.mark.parametrize("batch_rows", [1_000, 100_000])
def test_many_batches_keep_every_row_and_its_number(workspace, files, batch_rows):
    rows = [access_row(i) for i in range(4_500)]
    write_csv(files / "big.csv", rows)
    write_jsonl(files / "big.jsonl", rows)
    ingest(workspace, "access", [files / "big.csv"], batch_rows=batch_rows)
    ingest(workspace, "access", [files / "big.jsonl"], batch_rows=batch_rows)
    stored = _rows(workspace)
    for seq in (1, 2):
        numbers = sorted(r["_row"] for r in stored if r["_seq"] == seq)
        assert numbers == list(range(1, 4_501))
    assert {r["request_id"] for r in stored if r["_row"] == 4_500} == {"r-4499"}


def test_keys_are_bit_identical_whatever_the_repetition(workspace):
    """Keys come from distinct values for repetitive columns and directly for unique ones."""
    import duckdb

    from custodes.lake.keys import key_array

    con = duckdb.connect()
    unique = pa.array([f"req-{i}" for i in range(40_000)] + [None])
    repeated = pa.array([f"c-{i % 37}" for i in range(40_000)] + [None, "ünï"])
    for arr in (unique, repeated, pa.array([None, None], pa.string()), pa.array([], pa.string())):
        assert key_array(con, arr).to_pylist() == [ids.key_of(v) for v in arr.to_pylist()]



def test_remembered_dictionaries_give_the_same_keys_as_hashing_afresh():
    """The batches of a row group share its dictionary: its keys are reused, a dictionary that
    grows has only its new values hashed, and any other dictionary is hashed anew."""
    import duckdb

    from custodes.lake.keys import Remembered, key_arrays

    con = duckdb.connect()
    memory = Remembered()

    def batch(dictionary, indices):
        return pa.DictionaryArray.from_arrays(pa.array(indices, pa.int32()), pa.array(dictionary, pa.string()))

    batches = [
        batch(["a", "b"], [0, 1, 1, None]),
        batch(["a", "b"], [1, 0]),  # the same dictionary again
        batch(["a", "b", "c"], [2, 2, 0]),  # grown: only "c" is new
        batch(["c", "a"], [0, 1, 1]),  # another dictionary
        batch(["c"], [0]),  # shorter than the one remembered
    ]
    for b in batches:
        (keys,) = key_arrays(con, [b], ["account_id"], memory)
        assert keys.to_pylist() == [ids.key_of(v) for v in b.to_pylist()]
    plain = pa.array(["x", "y", "x"])  # encoded here, never remembered
    assert key_arrays(con, [plain], ["account_id"], memory)[0].to_pylist() == [ids.key_of(v) for v in plain.to_pylist()]

def test_jsonl_blank_line_before_a_line_longer_than_a_block(workspace, files):
    long_row = dict(access_row(1), user_agent="x" * 70_000)  # longer than the smallest block
    path = files / "long.jsonl"
    path.write_text("\n" + json.dumps(long_row) + "\n" + json.dumps(access_row(2)) + "\n")
    report = ingest(workspace, "access", [path], batch_rows=1)
    assert (report.rows, report.quarantined) == (2, 0)
    assert [r["_row"] for r in _rows(workspace)] == [2, 3]  # line numbers count the blank line


def test_csv_quoted_newlines_and_quotes_across_blocks(workspace, files):
    """Blocks are cut at record ends only: a quoted value may hold newlines and quotes."""
    agent = 'Mozilla/5.0 "quoted"\nsecond line, with a comma'
    rows = [access_row(i, user_agent=agent if i % 3 == 0 else "plain") for i in range(3_000)]
    path = write_csv(files / "quoted.csv", rows)
    assert path.stat().st_size > 4 * (1 << 16)  # several of the smallest blocks
    report = ingest(workspace, "access", [path], batch_rows=1_000)
    assert (report.rows, report.quarantined) == (3_000, 0)
    stored = _rows(workspace)
    assert [r["_row"] for r in stored] == list(range(1, 3_001))
    assert all(r["user_agent"] == (agent if (r["_row"] - 1) % 3 == 0 else "plain") for r in stored)
    assert all(r["request_id"] == f"r-{r['_row'] - 1}" for r in stored)


def _dictionary_case(n: int = 3_000) -> pa.Table:
    """A gateway log as Parquet writers store it: repeated text dictionary-encoded, with the
    awkward values a dictionary can hold ('' is missing, a bad address, a bad enum)."""
    rows = [access_row(i, status=200, asn=4766, device_id=f"d-{i % 5}") for i in range(n)]
    rows[5]["device_id"] = ""
    rows[7]["src_ip"] = "not-an-ip"
    rows[8]["actor_type"] = "robot"
    rows[9]["user_agent"] = None
    table = pa.Table.from_pylist(rows)
    return table.set_column(0, "time", pa.array(
        [dt.datetime(2025, 4, 14 + i % 2, i % 24, tzinfo=UTC) for i in range(n)], pa.timestamp("us", tz="UTC")))


def test_dictionary_encoded_parquet_stores_what_plain_parquet_stores(tmp_path, files):
    """Text columns with a Parquet dictionary are read as Arrow dictionaries (readers.parquet)
    and written as such: the stored rows, keys, schema and quarantine must not change."""
    from custodes.lake.readers.parquet import ParquetReader
    from custodes.lake.readers.source import SourceFile
    from custodes.workspace import Workspace

    table = _dictionary_case()
    pq.write_table(table, files / "dict.parquet", row_group_size=700)  # several dictionaries
    pq.write_table(table, files / "plain.parquet", row_group_size=700, use_dictionary=False)
    assert pa.types.is_dictionary(next(ParquetReader(SourceFile.open(files / "dict.parquet"), 1_000).batches()).schema.field("route").type)
    results = {}
    for name in ("dict", "plain"):
        ws = Workspace.open(tmp_path / f"ws-{name}")
        report = ingest(ws, "access", [files / f"{name}.parquet"], batch_rows=1_000)
        parts = list(ws.dataset_dir("access").rglob("part-*.parquet"))
        assert all(pq.read_schema(p).equals(stored_schema("access"), check_metadata=False) for p in parts)
        results[name] = (report.rows, report.reasons, _rows(ws))
    assert results["dict"][:2] == (2_998, {"bad_enum": 1, "bad_ip": 1})
    assert results["dict"] == results["plain"]
    by_row = {r["_row"]: r for r in results["dict"][2]}
    assert by_row[6]["device_id"] is None and by_row[6]["device_id_key"] is None  # '' is missing
    assert by_row[7]["device_id"] == "d-1" and by_row[7]["device_id_key"] == ids.key_of("d-1")
    assert by_row[10]["user_agent"] is None and by_row[11]["user_agent_key"] == ids.key_of("app/1.0")


@pytest.mark.parametrize("order", ["in time order", "shuffled"])
def test_every_row_lands_in_the_partition_of_its_utc_day(workspace, files, order):
    """Rows in time order are cut into day slices, others filtered by day: same placement."""
    rows = [access_row(i, time=f"2025-04-{14 + i // 40}T{i % 24:02d}:00:00Z") for i in range(120)]
    if order == "shuffled":
        rows = rows[::7] + [r for i, r in enumerate(rows) if i % 7]
    ingest(workspace, "access", [write_csv(files / "days.csv", rows)], batch_rows=50)
    placed = {}
    for part in workspace.dataset_dir("access").rglob("part-*.parquet"):
        for r in pq.read_table(part, columns=["request_id", "time"]).to_pylist():
            placed[r["request_id"]] = (part.parent.name, r["time"].date().isoformat())
    assert len(placed) == 120
    assert all(folder == f"date={day}" for folder, day in placed.values())
    assert {folder for folder, _ in placed.values()} == {"date=2025-04-14", "date=2025-04-15", "date=2025-04-16"}
    assert len(list(workspace.dataset_dir("access").rglob("part-*.parquet"))) == 3  # one file a day
    assert verify(workspace).ok


def test_parquet_with_a_column_name_given_twice_still_loads(workspace, files):
    table = pa.table([pa.array([dt.datetime(2025, 4, 14, 1, tzinfo=UTC)], pa.timestamp("us", tz="UTC")),
                      pa.array(["10.0.0.1"]), pa.array(["GET"]), pa.array(["/a"]), pa.array([200]),
                      pa.array(["service"]), pa.array(["mtls"]), pa.array(["a"]), pa.array(["b"])],
                     names=["time", "src_ip", "method", "route", "status", "actor_type", "credential_type", "x", "x"])
    pq.write_table(table, files / "dup.parquet")
    assert ingest(workspace, "access", [files / "dup.parquet"]).rows == 1


def test_small_batches_of_a_big_row_group_are_read_as_strings_where_the_dictionary_outgrew_them(files):
    """Arrow gives each batch the dictionary read so far in its row group: once it is larger than
    half the batch, the column is decoded instead of hashing that dictionary again each batch."""
    from custodes.lake.readers.parquet import ParquetReader
    from custodes.lake.readers.source import SourceFile

    n = 4_000
    pq.write_table(pa.table({"account_id": [f"c-{i}" for i in range(n)], "route": ["/a", "/b"] * (n // 2)}),
                   files / "one-group.parquet")
    batches = list(ParquetReader(SourceFile.open(files / "one-group.parquet"), 500).batches())
    assert all(pa.types.is_dictionary(b.schema.field("route").type) for b in batches)
    assert not any(pa.types.is_dictionary(b.schema.field("account_id").type) for b in batches)
    assert pa.concat_arrays([b.column("account_id").cast(pa.string()) for b in batches]).to_pylist() == \
        [f"c-{i}" for i in range(n)]


def test_reading_a_parquet_file_holds_one_row_group_not_the_file(files):
    """Memory is bounded by the batch, not the file: Arrow's read-ahead over a whole file kept
    every row group's compressed bytes until the end (random text: compressed = raw size)."""
    import os

    from custodes.lake.readers.parquet import ParquetReader
    from custodes.lake.readers.source import SourceFile

    groups, rows = 16, 2_000
    table = pa.table({"payload": [os.urandom(512).hex() for _ in range(groups * rows)]})
    pq.write_table(table, files / "groups.parquet", row_group_size=rows, compression="none")
    del table
    group_bytes = (files / "groups.parquet").stat().st_size // groups
    before = pa.total_allocated_bytes()
    held = []
    for batch in ParquetReader(SourceFile.open(files / "groups.parquet"), rows).batches():
        held.append(pa.total_allocated_bytes() - before)
        del batch
    assert len(held) == groups
    assert max(held) < groups // 2 * group_bytes, [h // group_bytes for h in held]  # was the whole file and more
