"""Idempotent and crash-safe: the same file twice adds nothing; kill -9 at any moment, then a
re-run, loads every row exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from custodes.engine import connect
from custodes.lake import ingest, seq_high_water, status, verify

from .conftest import access_row, write_csv

INGEST = [sys.executable, "-m", "custodes", "ingest", "access"]


def _count(ws) -> tuple[int, int]:
    with connect(ws, "duckdb") as engine:
        t = engine.table("access")
        return int(engine.to_arrow(t.count().name("n").as_table()).column(0)[0].as_py()), \
            int(engine.to_arrow(t.request_id.nunique().name("n").as_table()).column(0)[0].as_py())


def _inputs(files, n_files=3, rows=3_000):
    for f in range(n_files):
        write_csv(files / f"part{f}.csv", [access_row(f * rows + i) for i in range(rows)])
    return n_files * rows


def test_same_file_twice_adds_nothing(workspace, files):
    total = _inputs(files, 2, 500)
    first = ingest(workspace, "access", [files])
    again = ingest(workspace, "access", [files])
    copy = files.parent / "copy.csv"
    copy.write_bytes((files / "part0.csv").read_bytes())  # same content under another name
    third = ingest(workspace, "access", [copy])
    assert first.rows == total and again.rows == 0 and third.rows == 0
    assert all(f.skipped for f in again.files + third.files)
    assert _count(workspace) == (total, total)
    assert seq_high_water(workspace) == 2



def _stored(ws) -> list:
    return sorted(str(p.relative_to(ws.root)) for d in ("lake", "quarantine") for p in (ws.root / d).rglob("*")
                  if p.is_file())


def test_a_renamed_copy_is_read_then_dropped_and_leaves_nothing_behind(workspace, files):
    # A file not seen before is hashed while it is ingested; a copy is known only at the end.
    src = write_csv(files / "a.csv", [access_row(i) for i in range(300)] + [access_row(300, src_ip="nope")])
    first = ingest(workspace, "access", [src])
    before = _stored(workspace)
    copy = files.parent / "renamed.csv"
    copy.write_bytes(src.read_bytes())
    again = ingest(workspace, "access", [copy])
    assert (again.rows, again.quarantined) == (0, 0)
    assert again.files[0].skipped and again.files[0].seq == first.files[0].seq
    assert _stored(workspace) == before  # no staged part or quarantine file left
    later = ingest(workspace, "access", [write_csv(files / "b.csv", [access_row(500 + i) for i in range(10)])])
    assert later.files[0].seq == 2 and seq_high_water(workspace) == 2
    assert verify(workspace).ok

def test_a_renamed_copy_is_skipped_even_when_reading_it_now_fails(workspace, files, tmp_path):
    rows = [access_row(i) for i in range(200)]
    for r in rows:
        r["client"] = r.pop("src_ip")
    src = write_csv(files / "a.csv", rows)
    (tmp_path / "m.yaml").write_text("src_ip: client\n")
    ingest(workspace, "access", [src], mapping=tmp_path / "m.yaml")
    copy = files.parent / "renamed.csv"
    copy.write_bytes(src.read_bytes())
    later = write_csv(files.parent / "later.csv", [access_row(500 + i) for i in range(10)])
    # without the mapping the copy lacks src_ip (an error), but its content is in the lake already
    again = ingest(workspace, "access", [copy, later])
    assert [(f.skipped, f.seq) for f in again.files] == [(True, 1), (False, 2)]
    assert _count(workspace) == (210, 210)


def _run(ws, files, env_extra=None):
    env = dict(os.environ, CUSTODES_INGEST_BATCH_ROWS="1000", **(env_extra or {}))
    return subprocess.run(INGEST + [str(files), "--workspace", str(ws.root)], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("point", ["mid_file", "after_rename", "before_commit", "after_commit"])
def test_sigkill_at_each_step_then_rerun_loads_every_row_once(workspace, files, point):
    total = _inputs(files)
    crashed = _run(workspace, files, {"CUSTODES_LAKE_CRASH_AT": point})
    assert crashed.returncode == -signal.SIGKILL
    rerun = _run(workspace, files)
    assert rerun.returncode == 0, rerun.stderr
    assert _count(workspace) == (total, total)
    assert status(workspace)["datasets"]["access"]["rows"] == total
    report = verify(workspace)
    assert report.ok, report.to_dict()
    assert not [p for p in workspace.root.rglob(".*") if p.name != ".lock"]  # no leftovers


def test_parts_renamed_in_but_not_committed_are_never_read(workspace, files):
    """Killed between renaming its parts into place and committing: until a re-run recovers,
    queries see the committed rows only, not the dead ingest's."""
    write_csv(files / "part0.csv", [access_row(i) for i in range(300)])
    ingest(workspace, "access", [files / "part0.csv"])
    write_csv(files / "part1.csv", [access_row(1_000 + i) for i in range(300)])
    crashed = _run(workspace, files, {"CUSTODES_LAKE_CRASH_AT": "after_rename"})
    assert crashed.returncode == -signal.SIGKILL
    assert list(workspace.dataset_dir("access").rglob("part-0000000002-*.parquet"))  # renamed in
    assert _count(workspace) == (300, 300)


def test_real_kill_9_at_random_moments(workspace, files):
    total = _inputs(files, 4, 6_000)
    for delay in (0.8, 1.6, 2.4):
        proc = subprocess.Popen(INGEST + [str(files), "--workspace", str(workspace.root)],
                                env=dict(os.environ, CUSTODES_INGEST_BATCH_ROWS="1000"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    final = _run(workspace, files)
    assert final.returncode == 0, final.stderr
    assert _count(workspace) == (total, total)
    assert verify(workspace).ok


def test_an_entry_or_head_write_killed_before_its_rename_is_cleared_not_reported_inserted(workspace, files):
    """kill -9 between writing a manifest entry (or the seals' head) to its temporary file and
    renaming it leaves that file behind. It is not evidence of tampering: verify passes over it,
    and the next ingest removes it. The names are the ones the atomic write really uses."""
    from custodes.lake import manifest
    from custodes.safefile import _create_temp

    ingest(workspace, "access", [write_csv(files / "a.csv", [access_row(i) for i in range(10)])])
    torn = []
    for target in (manifest.entry_path(workspace, 2), manifest.head_path(workspace)):
        fd, tmp = _create_temp(target)  # what replace_file holds when the kill comes
        os.write(fd, b'{"seq": 2')
        os.close(fd)
        torn.append(tmp)
    assert verify(workspace).ok and not verify(workspace).inserted
    ingest(workspace, "access", [write_csv(files / "b.csv", [access_row(i) for i in range(10, 20)])])
    assert not any(p.exists() for p in torn)
    assert verify(workspace).ok and seq_high_water(workspace) == 2
