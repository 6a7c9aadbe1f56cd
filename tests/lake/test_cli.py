"""The four lake commands as operators script them: JSON on stdout and nothing else, exit 0 / 1
/ 2 as CONTRACT.md §2 says, one clear line on bad input."""

from __future__ import annotations

import json

import pytest

from custodes.cli import main

from .conftest import access_row, write_csv


def run(capsys, *argv) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    out, err = capsys.readouterr()
    return exc.value.code, out, err


@pytest.fixture
def ws(tmp_path):
    return str(tmp_path / "ws")


def test_ingest_status_quarantine_verify(capsys, files, ws):
    write_csv(files / "a.csv", [access_row(1), access_row(2, status="oops"), access_row(3)])
    code, out, err = run(capsys, "ingest", "access", str(files / "a.csv"), "--workspace", ws, "--output", "json")
    assert code == 0
    report = json.loads(out)
    assert (report["rows"], report["quarantined"], report["reasons"]) == (2, 1, {"bad_int": 1})

    code, out, _ = run(capsys, "--workspace", ws, "ingest", "access", str(files / "a.csv"))
    assert code == 0 and "0 rows loaded" in out and "1 already ingested" in out

    code, out, _ = run(capsys, "status", "--workspace", ws, "--format", "json")
    s = json.loads(out)
    assert s["datasets"]["access"] == {"rows": 2, "quarantined": 1, "files": 1, "partitions": 1,
                                       "first_time": "2025-04-14T00:00:03Z", "last_time": "2025-04-14T01:00:01Z"}
    assert s["seals"]["entries"] == 1 and len(s["seals"]["head"]) == 64

    code, out, _ = run(capsys, "quarantine", "access", "--workspace", ws, "--format", "json")
    (q,) = json.loads(out)
    assert (q["row"], q["column"], q["reason"], q["value"]) == (2, "status", "bad_int", "oops")
    code, out, _ = run(capsys, "quarantine", "--workspace", ws)
    assert code == 0 and "a.csv:2 status bad_int" in out

    code, out, _ = run(capsys, "verify", "--workspace", ws, "--format", "json")
    assert code == 0 and json.loads(out)["ok"] is True


def test_status_times_are_the_event_span(capsys, files, ws):
    write_csv(files / "a.csv", [access_row(1, time="2025-04-14T05:00:00+09:00"),
                                access_row(2, time="2025-04-16T10:00:00Z")])
    run(capsys, "ingest", "access", str(files / "a.csv"), "--workspace", ws)
    _, out, _ = run(capsys, "status", "--workspace", ws, "--format", "json")
    a = json.loads(out)["datasets"]["access"]
    assert (a["first_time"], a["last_time"]) == ("2025-04-13T20:00:00Z", "2025-04-16T10:00:00Z")


def test_status_text_has_column_headers_and_thousands_separators(capsys, files, ws):
    """Text for people: a header over the columns, 1,201 not 1201; the JSON keeps integers."""
    write_csv(files / "a.csv", [access_row(i) for i in range(1, 1202)] + [access_row(1202, status="oops")])
    run(capsys, "ingest", "access", str(files / "a.csv"), "--workspace", ws)
    code, out, _ = run(capsys, "status", "--workspace", ws)
    header, row = out.splitlines()[:2]
    assert code == 0 and header.split() == ["dataset", "rows", "quarantined", "files", "first", "event", "(UTC)",
                                             "last", "event", "(UTC)"]
    assert row.split()[:4] == ["access", "1,201", "1", "1"]
    assert header.index("rows") + len("rows") == row.index("1,201") + len("1,201")  # right-aligned under it
    assert "seals: 1 entry, head 1:" in out
    _, out, _ = run(capsys, "status", "--workspace", ws, "--format", "json")
    assert json.loads(out)["datasets"]["access"]["rows"] == 1201


def test_verify_exits_1_on_tampering(capsys, files, ws, tmp_path):
    write_csv(files / "a.csv", [access_row(1)])
    run(capsys, "ingest", "access", str(files / "a.csv"), "--workspace", ws)
    part = next((tmp_path / "ws" / "lake").rglob("part-*.parquet"))
    part.unlink()
    code, out, err = run(capsys, "verify", "--workspace", ws, "--format", "json")
    assert code == 1 and json.loads(out)["deleted"] == [str(part.relative_to(tmp_path / "ws"))]
    assert "verification failed" in err
    code, out, _ = run(capsys, "verify", "--workspace", ws)
    assert code == 1 and "DELETED: lake/access/" in out


def test_bad_input_is_exit_1_with_one_line(capsys, files, ws):
    (files / "junk.csv").write_bytes(b"\x00\xff" * 100)
    code, out, err = run(capsys, "ingest", "access", str(files / "junk.csv"), "--workspace", ws)
    assert code == 1 and out == "" and err.strip().count("\n") == 0 and "junk.csv" in err
    assert "Traceback" not in err


def test_wrong_usage_is_exit_2(capsys, files, ws):
    code, _, _ = run(capsys, "ingest", "nosuchdataset", str(files), "--workspace", ws)
    assert code == 2
    code, _, _ = run(capsys, "ingest", "access", str(files), "--format", "xml", "--workspace", ws)
    assert code == 2
