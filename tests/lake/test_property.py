"""Property: whatever malformed rows a file holds, every input row ends either in the lake or in
quarantine, never in both and never lost (rows in = rows stored + rows quarantined, matched by
``_row``), for every reader: CSV, JSON Lines, OCSF and Parquet. No bad value fails the whole
file: only a file that is not text at all does, and then nothing of it is stored."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings, strategies as st

from custodes.engine import connect
from custodes.errors import CustodesError
from custodes.lake import ingest, quarantined
from custodes.workspace import Workspace

from .conftest import ACCESS_HEADER, access_row

UTC = dt.timezone.utc
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Text that breaks things: NULs (raw and as JSON escapes), quotes, separators, CR, BOMs,
#: look-alike numbers and times, and anything else Unicode holds.
NASTY = st.one_of(
    st.sampled_from(["", " ", "\x00", "a\x00b", '"', '""', ",", ";", "\r", "\\u0000", "\\", "\ufeff", "-1",
                     "-9223372036854775808", "99999999999999999999", "1e400", "NaN", "2025-04-14T03:12:09+24:00",
                     "0001-01-01T00:00:00Z", "2200-01-01T00:00:00Z", "2025-02-30T00:00:00Z", "::ffff:10.0.0.1",
                     "203.0.113.256", "customer", "null", "{}", "[]", "true"]),
    st.text(max_size=30),
)
COLUMNS = ACCESS_HEADER + ["record_count", "bytes_out", "token_iat", "extra_field"]


def _row_dict(i: int, changes: dict) -> dict:
    row = access_row(i)
    row.update(changes)
    return row


ROW_CHANGES = st.dictionaries(st.sampled_from(COLUMNS), NASTY, max_size=4)


def _outcome(ws) -> tuple[list[int], list[int]]:
    stored = []
    if (ws.root / "lake" / "access").exists():
        with connect(ws, "duckdb") as engine:
            if engine.has("access"):
                stored = engine.to_arrow(engine.table("access").select("_row")).column(0).to_pylist()
    return sorted(stored), sorted(quarantined(ws)["row"].to_pylist())


def _check(path: Path, expected: list[int], fmt: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.open(Path(tmp) / "ws")
        try:
            report = ingest(ws, "access", [path], fmt=fmt)
        except CustodesError as exc:
            # Every file holds a sound row, so the only whole-file verdicts are "not text" (mostly
            # NULs at its start) and, for a file starting with "[", "not a JSON array" (such a
            # file is read as one array): one line naming the file, and nothing of it kept.
            array = path.read_bytes().lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"[")
            assert str(exc) == f"{path}: not a {'CSV' if path.suffix == '.csv' else 'JSON'} file (binary content)" \
                or array and str(exc).startswith(f"{path}: not a valid JSON array") and str(path) in str(exc), str(exc)
            assert "\n" not in str(exc) and "/proc/self/fd" not in str(exc)
            assert _outcome(ws) == ([], [])
            return
        stored, quarantine = _outcome(ws)
        assert not set(stored) & set(quarantine), "a row both stored and quarantined"
        assert sorted(stored + quarantine) == expected, "a row lost or doubled"
        assert report.rows == len(stored) and report.quarantined == len(quarantine)


@SETTINGS
@given(st.lists(st.one_of(ROW_CHANGES.map(lambda c: ("row", c)),
                          st.lists(NASTY, max_size=20).map(lambda f: ("fields", f))), min_size=1, max_size=25),
       st.integers(0, 24), st.booleans())
def test_csv_rows_all_land_somewhere(tmp_path_factory, records, good_at, crlf):
    end = "\r\n" if crlf else "\n"
    records.insert(min(good_at, len(records)), ("row", {}))  # one sound row: no whole-file verdict
    texts, expected = [_csv_record(COLUMNS, end)], []
    for kind, value in records:
        text = _csv_record([_row_dict(len(expected), value).get(c, "") for c in COLUMNS] if kind == "row" else value, end)
        texts.append(text)
        if text.rstrip("\n").rstrip("\r"):  # a blank line (or a lone CR before it) is not a row
            expected.append(len(expected) + 1)
    path = tmp_path_factory.mktemp("csv") / "a.csv"
    path.write_text("".join(texts), encoding="utf-8")
    _check(path, expected)


def _csv_record(fields: list[str], end: str) -> str:
    """One record as Python's csv module writes it (which leaves a CR unquoted when the line
    terminator is LF: a bare CR in a value, which the reader must set aside, not mis-split)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator=end).writerow(fields)
    return buf.getvalue()


def _json_line(kind: str, value) -> str:
    if kind == "row":
        return json.dumps(value)
    return value  # raw text: maybe JSON, maybe not


JSON_LINES = st.lists(st.one_of(
    st.tuples(st.integers(0, 10_000), ROW_CHANGES).map(lambda t: ("row", _row_dict(*t))),
    st.text(max_size=40).filter(lambda s: "\n" not in s).map(lambda s: ("text", s)),
    st.sampled_from(["", "\r", "   ", "[1,2]", "{", '{"time": "2025-04-14T00:00:00Z"}', "\x00\x00\x00",
                     '{"route": "/a\x00"}', "null"]).map(lambda s: ("text", s)),
), min_size=1, max_size=25)


@SETTINGS
@given(JSON_LINES, st.integers(0, 24), st.booleans(), st.text(max_size=20).filter(lambda s: "\n" not in s))
def test_json_lines_all_land_somewhere(tmp_path_factory, lines, good_at, bom, unfinished):
    lines.insert(min(good_at, len(lines)), ("row", access_row(0)))
    texts = [_json_line(k, v) for k, v in lines]
    expected = [i + 1 for i, t in enumerate(texts) if t.rstrip("\r") != ""]
    body = "\n".join(texts) + "\n" + unfinished  # a last line still being written: held back, not a row yet
    path = tmp_path_factory.mktemp("jsonl") / "a.jsonl"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + body.encode("utf-8"))
    _check(path, expected)


def _ocsf_event(i: int, cls: int, changes: dict) -> dict:
    event = {"class_uid": cls, "time": 1744588800000 + i, "src_endpoint": {"ip": f"10.0.0.{i % 250}"},
             "http_request": {"http_method": "GET", "url": {"path": "/x"}}, "http_response": {"code": 200},
             "unmapped": {"actor_type": "customer", "credential_type": "access_token"}}
    for key, value in changes.items():
        event[key] = value
    return event


OCSF_CHANGES = st.dictionaries(st.sampled_from(["time", "src_endpoint", "http_request", "unmapped", "actor",
                                                "http_response", "class_uid"]),
                               st.one_of(NASTY, st.integers(), st.dictionaries(st.text(max_size=5), NASTY, max_size=3)),
                               max_size=3)


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from([6003, 6003, 3002, 1]), OCSF_CHANGES), min_size=1, max_size=20),
       st.integers(0, 20))
def test_ocsf_events_all_land_somewhere(tmp_path_factory, events, good_at):
    lines = [json.dumps(_ocsf_event(i, cls, ch)) for i, (cls, ch) in enumerate(events)]
    lines.insert(min(good_at, len(lines)), json.dumps(_ocsf_event(0, 6003, {})))
    path = tmp_path_factory.mktemp("ocsf") / "a.ocsf"
    path.write_text("\n".join(lines) + "\n")
    _check(path, list(range(1, len(lines) + 1)), fmt="ocsf")


TIMES = st.one_of(st.none(), st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30),
                                          timezones=st.just(UTC)))
TEXTS = st.one_of(st.none(), NASTY)


@SETTINGS
@given(st.lists(st.tuples(TIMES, TEXTS, TEXTS, st.one_of(st.none(), st.integers(-2**63, 2**63 - 1)), TEXTS),
                min_size=1, max_size=30),
       st.integers(0, 30), st.sampled_from(["timestamp", "text", "epoch"]), st.booleans(), st.integers(1, 8))
def test_parquet_rows_all_land_somewhere(tmp_path_factory, rows, good_at, time_kind, dictionary, group):
    rows.insert(min(good_at, len(rows)), (dt.datetime(2025, 4, 14, tzinfo=UTC), "10.0.0.1", "/a", 200, "customer"))
    times = [r[0] for r in rows]
    if time_kind == "text":
        time_col = pa.array([None if t is None else t.isoformat() for t in times], pa.string())
    elif time_kind == "epoch":
        time_col = pa.array([None if t is None else int(t.timestamp()) for t in times], pa.int64())
    else:
        time_col = pa.array(times, pa.timestamp("us", tz="UTC"))
    table = pa.table({
        "time": time_col, "src_ip": pa.array([r[1] for r in rows], pa.string()),
        "route": pa.array([r[2] for r in rows], pa.string()), "status": pa.array([r[3] for r in rows], pa.int64()),
        "actor_type": pa.array([r[4] for r in rows], pa.string()),
        "method": pa.array(["GET"] * len(rows)), "credential_type": pa.array(["access_token"] * len(rows)),
    })
    path = tmp_path_factory.mktemp("parquet") / "a.parquet"
    pq.write_table(table, path, use_dictionary=dictionary, row_group_size=group)
    _check(path, list(range(1, len(rows) + 1)))
