"""Faults while ingesting end in one clear line per file and a consistent lake: a full disk, a
file that vanishes from a folder, a stray README.txt, a UTF-8 BOM, NUL bytes, negative counts."""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import subprocess

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from custodes.cli import main
from custodes.engine import connect
from custodes.lake import ingest, quarantined, verify
from custodes.lake.ingest import IngestFailed

from .conftest import access_row, write_csv, write_jsonl

UTC = dt.timezone.utc


def run(capsys, *argv) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def _count(ws) -> int:
    with connect(ws, "duckdb") as engine:
        return engine.to_arrow(engine.table("access").count().name("n").as_table()).column(0)[0].as_py()


def _leftovers(root) -> list:
    return [p for p in root.rglob(".*") if p.name != ".lock"]


# A full disk -------------------------------------------------------------------------------------
def _random_rows(n: int, start: int = 0) -> list[dict]:
    """Rows that do not compress: a full disk needs bytes on disk."""
    return [access_row(start + i, request_id=os.urandom(48).hex(), user_agent=os.urandom(96).hex())
            for i in range(n)]


@pytest.fixture
def small_disk(tmp_path):
    """A real 3 MiB tmpfs, where mounting is allowed (root, or a user namespace); skipped elsewhere."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_is_one_line_per_file_then_what_was_committed(capsys, files, small_disk):
    write_csv(files / "a.csv", _random_rows(200))
    write_csv(files / "b.csv", _random_rows(30_000, 1_000))  # far more than the disk holds
    write_csv(files / "c.csv", _random_rows(30_000, 100_000))
    ws = str(small_disk / "ws")
    code, out, err = run(capsys, "ingest", "access", str(files), "--workspace", ws)
    assert code == 1 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[0].startswith("custodes: error: ") and "b.csv: No space left on device" in lines[0]
    assert "c.csv: No space left on device" in lines[1]
    assert lines[2] == "2 of 3 files failed and left nothing behind; 1 committed"
    assert len(lines) == 3
    assert "200 rows loaded" in out
    from custodes.workspace import Workspace

    workspace = Workspace.open(ws)
    assert _count(workspace) == 200 and verify(workspace).ok and not _leftovers(workspace.root)


def test_an_injected_enospc_fails_that_file_only(workspace, files, monkeypatch):
    from custodes.lake import store

    write_csv(files / "a.csv", [access_row(i) for i in range(10)])
    write_csv(files / "b.csv", [access_row(100 + i) for i in range(10)])
    write_csv(files / "c.csv", [access_row(200 + i) for i in range(10)])
    real = store.StagedWriter.write_days

    def write_days(self, pieces):
        if any(piece.column("request_id")[0].as_py() == "r-100" for _, piece in pieces):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, pieces)
    monkeypatch.setattr(store.StagedWriter, "write_days", write_days)
    with pytest.raises(IngestFailed) as failed:
        ingest(workspace, "access", [files])
    report = failed.value.report
    assert str(failed.value) == f"{files / 'b.csv'}: No space left on device"
    assert [(f.rows, f.error is None) for f in report.files] == [(10, True), (0, False), (10, True)]
    assert report.committed == 2 and _count(workspace) == 20 and verify(workspace).ok
    assert not _leftovers(workspace.root)


# Files that come and go --------------------------------------------------------------------------
def test_a_file_that_vanishes_from_a_folder_mid_ingest_is_noted_and_the_rest_loads(capsys, files, tmp_path):
    for name in ("a", "b", "c"):
        write_csv(files / f"{name}.csv", [access_row(i + ord(name) * 100) for i in range(5)])
    ws = str(tmp_path / "ws")
    from custodes.progress import Bar
    from custodes.workspace import Workspace

    class Rotate(Bar):
        def done(self, n=1):  # logrotate's maxage removes b.csv once a.csv is ingested
            (files / "b.csv").unlink(missing_ok=True)

    report = ingest(Workspace.open(ws), "access", [files], progress=Rotate())
    assert [f.rows for f in report.files] == [5, 0, 5]
    assert report.files[1].note == "not read: it vanished before it was opened" and report.files[1].error is None


def test_a_stray_readme_in_a_folder_is_skipped_with_a_note(capsys, files, tmp_path):
    write_jsonl(files / "a.jsonl", [access_row(1), access_row(2)])
    (files / "README.txt").write_text("These are the gateway's logs. Do not edit.\n")
    ws = str(tmp_path / "ws")
    code, out, err = run(capsys, "ingest", "access", str(files), "--workspace", ws)
    assert code == 0 and "2 rows loaded" in out
    assert f"{files / 'README.txt'}: not read: unknown extension (give --format to read it)" in err
    # named on the command line, it is still an error; with --format it is read as that format
    code, _, err = run(capsys, "ingest", "access", str(files / "README.txt"), "--workspace", ws)
    assert code == 1 and "cannot tell the format from the extension" in err
    code, out, _ = run(capsys, "ingest", "access", str(files), "--format", "jsonl", "--workspace", ws,
                       "--output", "json")
    assert code == 0 and json.loads(out)["reasons"] == {"bad_json": 1}


# What a line holds -------------------------------------------------------------------------------
def test_a_bom_at_the_start_of_json_lines_is_stripped(workspace, files):
    path = files / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "".join(json.dumps(access_row(i)) + "\n" for i in range(3)).encode())
    report = ingest(workspace, "access", [path])
    assert (report.rows, report.quarantined) == (3, 0)


def _nul_inputs(files) -> dict[str, object]:
    """A NUL early (inside the first 64 KiB) and late, in a value, for every format."""
    early, late = 2, 800
    rows = [access_row(i) for i in range(1000)]
    rows[early]["route"] = "/api/\x00v1"
    rows[late]["user_agent"] = "app\x00/1.0"
    csv_path = write_csv(files / "n.csv", rows)
    jsonl = write_jsonl(files / "n.jsonl", rows)  # json.dumps writes the escape \u0000
    raw = files / "raw.jsonl"  # a raw NUL byte: the line is no JSON any more
    raw.write_bytes(b"".join((json.dumps(r).replace("\\u0000", "\x00")).encode() + b"\n" for r in rows))
    parquet = files / "n.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    return {"csv": csv_path, "jsonl": jsonl, "raw": raw, "parquet": parquet}


@pytest.mark.parametrize("kind", ["csv", "jsonl", "raw", "parquet"])
def test_nul_is_one_rule_in_every_format_and_position(workspace, files, kind):
    path = _nul_inputs(files)[kind]
    report = ingest(workspace, "access", [path])
    assert (report.rows, report.quarantined, report.reasons) == (998, 2, {"bad_value": 2})
    got = [(q["row"], q["column"], q["value"]) for q in quarantined(workspace).to_pylist()]
    if kind == "raw":  # unparsable: the row is named, with its text
        assert [(r, c) for r, c, _ in got] == [(3, ""), (801, "")] and "\\0" in got[0][2]
    else:
        assert got == [(3, "route", "/api/\\0v1"), (801, "user_agent", "app\\0/1.0")]
    with connect(workspace, "duckdb") as engine:
        t = engine.table("access")
        texts = engine.to_arrow(t.select("route", "user_agent")).to_pylist()
    assert not any("\x00" in (v or "") for r in texts for v in r.values())


def test_a_literal_backslash_u0000_is_text_not_a_nul(workspace, files):
    row = access_row(1, user_agent="tool \\u0000 v2")  # the six characters, escaped as \\u0000 in JSON
    report = ingest(workspace, "access", [write_jsonl(files / "a.jsonl", [row])])
    assert (report.rows, report.quarantined) == (1, 0)


def test_a_file_that_is_mostly_nul_is_binary(workspace, files):
    path = files / "utf16.csv"
    path.write_bytes("time,src_ip\n2025-04-14T00:00:00Z,10.0.0.1\n".encode("utf-16-le"))
    with pytest.raises(IngestFailed, match=r"utf16\.csv: not a CSV file \(binary content\)"):
        ingest(workspace, "access", [path])


@pytest.mark.parametrize("column", ["record_count", "status", "bytes_out", "asn"])
def test_a_negative_count_is_a_bad_value(workspace, files, column):
    rows = [access_row(1), access_row(2, **{column: "-5"}), access_row(3)]
    report = ingest(workspace, "access", [write_csv(files / "a.csv", rows, header=list(rows[0]) + (
        [column] if column not in rows[0] else []))])
    assert report.reasons == {"bad_value": 1}
    (q,) = quarantined(workspace).to_pylist()
    assert (q["row"], q["column"], q["value"]) == (2, column, "-5")


def test_a_negative_parquet_integer_is_a_bad_value(workspace, files):
    rows = [access_row(i) for i in range(3)]
    table = pa.Table.from_pylist(rows).set_column(6, "status", pa.array([200, -1, 404], pa.int32()))
    pq.write_table(table, files / "a.parquet")
    report = ingest(workspace, "access", [files / "a.parquet"])
    assert (report.rows, report.reasons) == (2, {"bad_value": 1})


def test_a_binary_map_file_is_one_line(capsys, files, tmp_path):
    write_csv(files / "a.csv", [access_row(1)])
    junk = tmp_path / "map.yaml"
    junk.write_bytes(bytes(range(256)) * 4)
    code, out, err = run(capsys, "ingest", "access", str(files / "a.csv"), "--map", str(junk),
                         "--workspace", str(tmp_path / "ws"))
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1
    assert "map.yaml: the mapping file is not UTF-8 text" in err and "Traceback" not in err


def test_one_bad_file_among_many_fails_alone(capsys, files, tmp_path):
    write_csv(files / "a.csv", [access_row(1)])
    (files / "b.csv").write_bytes(b"\x00\xff" * 100)
    write_csv(files / "c.csv", [access_row(3)])
    code, out, err = run(capsys, "ingest", "access", str(files), "--workspace", str(tmp_path / "ws"))
    assert code == 1 and "2 rows loaded" in out
    assert err.strip().splitlines() == [f"custodes: error: {files / 'b.csv'}: not a CSV file (binary content)",
                                        "1 of 3 files failed and left nothing behind; 2 committed"]


def test_a_nul_in_a_csv_record_that_is_also_malformed_shows_the_record(workspace, files):
    path = write_csv(files / "a.csv", [access_row(1)])
    with open(path, "ab") as fh:
        fh.write(b"2025-04-14T00:00:00Z,a\x00b\r\n")  # too few fields, and a NUL
    report = ingest(workspace, "access", [path])
    (q,) = quarantined(workspace).to_pylist()
    assert report.reasons == {"bad_value": 1} and (q["row"], q["column"]) == (2, "")
    assert q["value"] == "2025-04-14T00:00:00Z,a\\0b"


def test_a_fifo_in_a_files_place_is_refused_not_waited_on(tmp_path):
    from custodes.errors import CustodesError
    from custodes.lake.readers.source import SourceFile

    fifo = tmp_path / "a.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(CustodesError, match="not a regular file"):
        SourceFile.open(fifo)  # (a blocking open would wait here for a writer forever)
