"""Logs are ingested while they grow and after they rotate: every source row lands in the lake
exactly once. A file is hashed from the bytes its reader read; one that changed while it was
read loads nothing; a file that starts with a recorded source loads only what follows it (the
foundation of ``custodes watch``, CONTRACT.md §7)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from custodes.engine import connect
from custodes.lake import ingest, manifest, quarantined, verify
from custodes.lake.ingest import IngestFailed
from custodes.lake.readers.source import SourceFile

from .conftest import access_row, write_csv


def _lines(first: int, n: int) -> str:
    return "".join(json.dumps(access_row(i)) + "\n" for i in range(first, first + n))


def _request_ids(ws) -> Counter:
    with connect(ws, "duckdb") as engine:
        t = engine.table("access")
        return Counter(engine.to_arrow(t.select("request_id")).column(0).to_pylist())


def _stored(ws) -> list[tuple[str, int]]:
    with connect(ws, "duckdb") as engine:
        rows = engine.to_arrow(engine.table("access").select("request_id", "_row", "_seq")).to_pylist()
    return sorted((r["request_id"], r["_row"]) for r in rows)


def _once(ws, n: int) -> None:
    """Every one of r-0 .. r-(n-1) in the lake exactly once."""
    got = _request_ids(ws)
    assert sorted(got) == sorted(f"r-{i}" for i in range(n)), (len(got), n)
    assert set(got.values()) == {1}, [k for k, v in got.items() if v > 1][:5]


def test_the_recorded_hash_is_of_exactly_the_bytes_loaded(workspace, files):
    log = files / "app.log"
    log.write_text(_lines(0, 50) + '{"time": "2025-04-14T00:00:0')  # a line still being written
    report = ingest(workspace, "access", [log], fmt="jsonl")
    (entry,) = manifest.entries(workspace)
    data = log.read_bytes()
    end = data.rindex(b"\n") + 1
    assert entry["source"]["bytes"] == end and entry["source"]["size"] == len(data)
    assert entry["source"]["sha256"] == hashlib.sha256(data[:end]).hexdigest()
    assert entry["source"]["last_row"] == 50
    assert report.rows == 50 and report.quarantined == 0
    assert report.files[0].held_back == len(data) - end  # neither loaded nor quarantined


def test_a_growing_file_ingested_again_loads_only_its_tail(workspace, files):
    log = files / "app.log"
    log.write_text(_lines(0, 100))
    assert ingest(workspace, "access", [log], fmt="jsonl").rows == 100
    with open(log, "a") as fh:
        fh.write(_lines(100, 40))
    again = ingest(workspace, "access", [log], fmt="jsonl")
    assert (again.rows, again.files[0].from_byte) == (40, len(_lines(0, 100)))
    assert "read from byte" in again.files[0].note
    _once(workspace, 140)
    # rows are numbered as in the whole file
    assert [r for _, r in sorted(_stored(workspace), key=lambda x: x[1])] == list(range(1, 141))
    last = manifest.entries(workspace)[-1]["source"]
    assert (last["bytes"], last["last_row"], last["continues"]) == (log.stat().st_size, 140, 1)
    assert last["sha256"] == hashlib.sha256(log.read_bytes()).hexdigest()
    # nothing new: skipped, no entry
    third = ingest(workspace, "access", [log], fmt="jsonl")
    assert third.rows == 0 and third.files[0].skipped and len(manifest.entries(workspace)) == 2
    assert verify(workspace).ok


def test_an_unfinished_last_line_is_taken_when_it_is_complete(workspace, files):
    log = files / "app.jsonl"
    whole = json.dumps(access_row(3))
    log.write_text(_lines(0, 3) + whole[:25])
    first = ingest(workspace, "access", [log])
    assert (first.rows, first.quarantined) == (3, 0) and first.files[0].held_back == 25
    with open(log, "a") as fh:
        fh.write(whole[25:] + "\n" + _lines(4, 2))
    second = ingest(workspace, "access", [log])
    assert (second.rows, second.quarantined) == (3, 0)
    _once(workspace, 6)
    assert not quarantined(workspace).num_rows


def test_a_growing_csv_is_read_on_with_its_header(workspace, files):
    path = write_csv(files / "a.csv", [access_row(i) for i in range(30)])
    assert ingest(workspace, "access", [path]).rows == 30
    more = write_csv(files / "more.csv", [access_row(i) for i in range(30, 45)])
    with open(path, "ab") as fh:  # the same columns: append the records after the header
        fh.write(more.read_bytes().split(b"\n", 1)[1])
    more.unlink()
    again = ingest(workspace, "access", [path])
    assert again.rows == 15 and again.files[0].from_byte > 0
    _once(workspace, 45)
    assert sorted(r for _, r in _stored(workspace)) == list(range(1, 46))


def test_copytruncate_rotation_loads_only_what_was_not_loaded(workspace, files):
    """app.log ingested at N bytes; M more lines appended; logrotate's copytruncate copies it to
    app.log.1 and truncates it; new lines go to app.log. Both ingested: each row once."""
    log = files / "app.log"
    log.write_text(_lines(0, 200))
    ingest(workspace, "access", [log], fmt="jsonl")
    with open(log, "a") as fh:
        fh.write(_lines(200, 50))
    shutil.copyfile(log, files / "app.log.1")
    with open(log, "w") as fh:  # truncate, then the application writes on
        fh.write(_lines(250, 30))
    report = ingest(workspace, "access", [files], fmt="jsonl")
    by_name = {os.path.basename(f.path): f for f in report.files}
    assert by_name["app.log.1"].rows == 50 and by_name["app.log.1"].from_byte == len(_lines(0, 200))
    assert by_name["app.log"].rows == 30 and by_name["app.log"].from_byte == 0
    _once(workspace, 280)


def test_rename_rotation_loads_only_what_was_not_loaded(workspace, files):
    log = files / "app.log"
    log.write_text(_lines(0, 120))
    ingest(workspace, "access", [log], fmt="jsonl")
    with open(log, "a") as fh:
        fh.write(_lines(120, 7))
    log.rename(files / "app.log.1")
    log.write_text(_lines(127, 9))
    report = ingest(workspace, "access", [files / "app.log.1", log], fmt="jsonl")
    assert [f.rows for f in report.files] == [7, 9]
    _once(workspace, 136)
    # and once more, nothing changes
    assert ingest(workspace, "access", [files], fmt="jsonl").rows == 0
    _once(workspace, 136)


def test_a_copy_that_shares_only_the_first_bytes_is_read_whole(workspace, files):
    """Same first 4 KiB, different content after: not a continuation."""
    head = _lines(0, 40)
    a, b = files / "a.jsonl", files / "b.jsonl"
    a.write_text(head + _lines(40, 10))
    b.write_text(head + _lines(1000, 10) + _lines(2000, 5))
    ingest(workspace, "access", [a])
    report = ingest(workspace, "access", [b])
    assert report.rows == 55 and report.files[0].from_byte == 0


def _copytruncate_during(log, rotated, when):
    """Stand-in for logrotate's copytruncate while custodes reads ``log``: hooked into the read."""
    real = SourceFile.read_into
    state = {"reads": 0}

    def read_into(self, view, offset):
        n = real(self, view, offset)
        state["reads"] += 1
        if self.path == log and state["reads"] == when:
            shutil.copyfile(log, rotated)
            with open(log, "r+") as fh:
                fh.truncate(0)
            with open(log, "a") as fh:
                fh.write(_lines(900_000, 3))
        return n
    return read_into


def test_a_file_truncated_while_it_is_ingested_loads_nothing_and_its_rotated_copy_everything(
        workspace, files, monkeypatch):
    """The issue's scenario: copytruncate lands in the middle of the ingest. That ingest of
    app.log loads nothing (and says why); then the rotated copy and the new app.log are
    ingested, and every source row is in the lake exactly once, by request_id."""
    log, rotated = files / "app.log", files.parent / "app.log.1"
    log.write_text(_lines(0, 20_000))
    monkeypatch.setattr(SourceFile, "read_into", _copytruncate_during(log, rotated, when=2))
    with pytest.raises(IngestFailed, match=r"app\.log: changed while it was read \(truncated from"):
        ingest(workspace, "access", [log], fmt="jsonl", batch_rows=1_000)
    monkeypatch.undo()
    assert not manifest.entries(workspace)
    assert not [p for p in (workspace.root / "lake").rglob("*.parquet")]  # staged files removed
    ingest(workspace, "access", [rotated, log], fmt="jsonl")
    got = _request_ids(workspace)
    assert sum(got.values()) == 20_003 and set(got.values()) == {1}
    assert verify(workspace).ok


def test_a_parquet_file_rewritten_while_it_is_read_loads_nothing(workspace, files, monkeypatch):
    path = files / "a.parquet"
    rows = [access_row(i) for i in range(3000)]
    table = pa.Table.from_pylist(rows)
    pq.write_table(table, path, row_group_size=1000)
    real = SourceFile.read_into

    def read_into(self, view, offset):
        n = real(self, view, offset)
        if offset == 4:  # the first row group: rewrite the file in place behind the reader
            with open(path, "r+b") as fh:
                fh.seek(offset)
                fh.write(b"\0" * 8)
        return n
    monkeypatch.setattr(SourceFile, "read_into", read_into)
    with pytest.raises(IngestFailed, match=r"a\.parquet: changed while it was read \(rewritten"):
        ingest(workspace, "access", [path])
    assert not manifest.entries(workspace)


def test_the_parquet_hash_covers_the_whole_file_though_arrow_reads_only_some_columns(workspace, files):
    path = files / "a.parquet"
    rows = [dict(access_row(i), unknown_blob="x" * 50) for i in range(2000)]
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=500)
    ingest(workspace, "access", [path])
    (entry,) = manifest.entries(workspace)
    assert entry["source"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert entry["source"]["bytes"] == path.stat().st_size and "last_row" not in entry["source"]


@pytest.mark.parametrize("delay", [0.3, 0.8, 1.2])
def test_real_copytruncate_at_any_moment_of_a_cli_ingest_loses_and_doubles_nothing(tmp_path, delay):
    """No hooks: a real `custodes ingest` process, and a copy-then-truncate (what logrotate's
    copytruncate does) at some moment while it runs. Whatever the timing, once app.log.1 and
    app.log are both ingested, each source row is in the lake exactly once."""
    from custodes.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws")
    d = tmp_path / "logs"
    d.mkdir()
    log, rotated = d / "app.log", d / "app.log.1"
    n = 150_000
    log.write_text(_lines(0, n))
    cmd = [sys.executable, "-m", "custodes", "ingest", "access", "--format", "jsonl", "--workspace", str(ws.root)]
    env = dict(os.environ, CUSTODES_INGEST_BATCH_ROWS="5000")
    proc = subprocess.Popen(cmd + [str(log)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    shutil.copyfile(log, rotated)
    with open(log, "r+") as fh:
        fh.truncate(0)
    with open(log, "a") as fh:
        fh.write(_lines(n, 10))
    _, err = proc.communicate(timeout=300)
    assert "Traceback" not in err
    final = subprocess.run(cmd + [str(rotated), str(log)], env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    _once(ws, n + 10)


def test_a_file_ingested_by_the_previous_version_is_not_loaded_again(workspace, files):
    """Entries written before sources recorded their first bytes hashed whole files, also a last
    line without a newline: such a file, ingested again after the upgrade, adds nothing."""
    log = files / "old.jsonl"
    log.write_text(_lines(0, 30) + json.dumps(access_row(30)))  # no final newline
    ingest(workspace, "access", [log])
    entry_file = manifest.entry_path(workspace, 1)
    entry = json.loads(entry_file.read_text())
    legacy = {"path": entry["source"]["path"], "format": "jsonl", "bytes": log.stat().st_size,
              "sha256": hashlib.sha256(log.read_bytes()).hexdigest()}
    # (what the previous version recorded; re-sealed so that the chain still checks out)
    from custodes.lake import seal

    entry["source"] = legacy
    entry.pop("signature", None)
    entry["seal"] = seal.entry_seal(entry)
    entry_file.write_text(json.dumps(entry))
    (workspace.root / "seals" / "head.json").write_text(json.dumps({"seq": 1, "seal": entry["seal"]}))
    again = ingest(workspace, "access", [log])
    assert again.rows == 0 and again.files[0].skipped and again.files[0].seq == 1
