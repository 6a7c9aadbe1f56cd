"""Which files a watch cycle takes: unchanged files are not read again, files still being written
wait until quiet, an mtime set in the future cannot hold a file back, renamed files are not read
again, unknown formats are ignored once, a broken file or source fails the cycle alone, and the
guard's events directory is a source out of the box."""

from __future__ import annotations

import json
import logging
import os
import time

import pytest

import custodes.lake
from custodes.errors import CustodesError
from custodes.watch import config as watch_config
from custodes.watch import run_cycle
from custodes.watch.state import WatchState

from .conftest import access_csv, access_jsonl, configure, lake_request_ids, run_watch

NO_DETECT_ALERTS = {}


@pytest.fixture
def src(tmp_path):
    d = tmp_path / "gateway"
    d.mkdir()
    return d


@pytest.fixture
def handed(monkeypatch):
    """The files each cycle hands to ingest (a file not handed over is not opened at all)."""
    files: list[str] = []
    real_ingest = custodes.lake.ingest

    def ingest(ws, dataset, paths, **kw):
        files.extend(str(p) for p in paths)
        return real_ingest(ws, dataset, paths, **kw)

    monkeypatch.setattr(custodes.lake, "ingest", ingest)
    return files


def test_unchanged_files_are_not_read_again(workspace, src, handed):
    for i in range(3):
        access_csv(src / f"gw-{i}.csv", first=i * 100, n=100)
    configure(workspace, [{"dataset": "access", "path": str(src), "quiet_seconds": 0}])
    first = run_cycle(workspace)
    assert first.ok, first.all_errors()
    assert first.sources[0].rows == 300 and len(handed) == 3
    handed.clear()
    again = run_cycle(workspace)
    assert again.ok and again.sources[0].rows == 0
    assert handed == []  # not handed to ingest: not read, not hashed
    assert again.detect == {"ran": False}  # and no detection either: the lake did not move
    access_csv(src / "gw-3.csv", first=300, n=50)
    third = run_cycle(workspace)
    assert handed == [str(src / "gw-3.csv")] and third.sources[0].rows == 50
    assert sorted(lake_request_ids(workspace)) == sorted(f"r{i}" for i in range(350))


def test_a_file_still_being_written_waits_until_quiet(workspace, src):
    access_csv(src / "live.csv", first=0, n=10)
    configure(workspace, [{"dataset": "access", "path": str(src), "quiet_seconds": 60, "max_wait_seconds": None}])
    now = time.time()
    waiting = run_cycle(workspace, now=now)
    assert waiting.ok and waiting.sources[0].rows == 0 and waiting.sources[0].waiting == 1
    later = run_cycle(workspace, now=now + 61)
    assert later.sources[0].rows == 10 and later.sources[0].waiting == 0


def test_an_mtime_in_the_future_cannot_keep_a_file_waiting(workspace, src):
    """An insider who sets a file's mtime to 2099 keeps it from ever looking quiet by its mtime;
    watch's own observation (unchanged for quiet_seconds) takes it all the same."""
    path = access_csv(src / "held.csv", first=0, n=10)
    future = time.mktime((2099, 1, 1, 0, 0, 0, 0, 0, 0))
    os.utime(path, (future, future))
    configure(workspace, [{"dataset": "access", "path": str(src), "quiet_seconds": 60, "max_wait_seconds": None}])
    now = time.time()
    assert run_cycle(workspace, now=now).sources[0].waiting == 1
    assert run_cycle(workspace, now=now + 30).sources[0].waiting == 1
    taken = run_cycle(workspace, now=now + 61)
    assert taken.sources[0].rows == 10


def test_a_file_that_keeps_changing_shows_in_the_ingest_lag(workspace, src):
    """A Parquet-less, never quiet file (touched every cycle) is not taken by quiet, but its
    wait is visible: the pending count and the lag grow from when watch first saw it."""
    from custodes.watch.metrics import WatchCollector

    path = access_csv(src / "busy.csv", first=0, n=5)
    configure(workspace, [{"dataset": "access", "path": str(src), "quiet_seconds": 60, "max_wait_seconds": None}])
    now = time.time()
    for k in range(3):
        os.utime(path, (now + 20 * k, now + 20 * k))
        assert run_cycle(workspace, now=now + 20 * k).sources[0].waiting == 1
    collector = WatchCollector(workspace, clock=lambda: now + 3600)
    samples = {(m.name, s.labels.get("source")): s.value for m in collector.collect() for s in m.samples}
    assert samples[("custodes_watch_source_pending_files", "access")] == 1
    assert samples[("custodes_watch_source_lag_seconds", "access")] == pytest.approx(3600, abs=1)


def test_a_renamed_file_that_did_not_change_is_not_read_again(workspace, src, handed):
    access_csv(src / "gw.csv", first=0, n=20)
    configure(workspace, [{"dataset": "access", "path": str(src), "quiet_seconds": 0}])
    run_cycle(workspace)
    handed.clear()
    os.rename(src / "gw.csv", src / "gw.1.csv")
    report = run_cycle(workspace)
    assert report.ok and handed == []
    with WatchState.open(workspace) as state:
        assert set(state.files("access")) == {str(src / "gw.1.csv")}
    assert len(lake_request_ids(workspace)) == 20


def test_a_file_of_no_known_format_is_ignored_once_with_a_warning(workspace, src, caplog):
    access_csv(src / "gw.csv", first=0, n=5)
    (src / "access.log.2.gz").write_bytes(b"\x1f\x8b compressed")
    configure(workspace, [{"dataset": "access", "path": str(src), "quiet_seconds": 0}])
    with caplog.at_level(logging.WARNING, logger="custodes.watch"):
        first = run_cycle(workspace)
        assert first.ok and first.sources[0].rows == 5
        assert sum("access.log.2.gz" in r.getMessage() for r in caplog.records) == 1
        caplog.clear()
        run_cycle(workspace)
        assert not any("access.log.2.gz" in r.getMessage() for r in caplog.records)


def test_a_broken_file_fails_the_cycle_alone_and_is_retried(workspace, src):
    access_csv(src / "good.csv", first=0, n=10)
    bad = src / "bad.csv"
    bad.write_text("time,src_ip,method\n2025-04-14T10:00:00Z,10.0.0.1,GET\n")  # no route, status, ...
    configure(workspace, [{"dataset": "access", "path": str(src), "quiet_seconds": 0}])
    report = run_cycle(workspace)
    assert not report.ok
    (error,) = report.sources[0].errors
    assert "bad.csv" in error and "route" in error
    assert report.sources[0].rows == 10  # the good file loaded all the same
    assert not run_cycle(workspace).ok  # retried, still failing: still loud
    bad.unlink()
    access_csv(bad, first=10, n=5)
    fixed = run_cycle(workspace)
    assert fixed.ok and fixed.sources[0].rows == 5
    assert sorted(lake_request_ids(workspace)) == sorted(f"r{i}" for i in range(15))


def test_once_exits_1_naming_a_missing_source_and_loads_the_others(workspace, src, tmp_path):
    access_csv(src / "gw.csv", first=0, n=10)
    configure(workspace, [{"dataset": "access", "path": str(src), "quiet_seconds": 0},
                          {"dataset": "issuance", "path": str(tmp_path / "no-such-dir"), "quiet_seconds": 0}])
    r = run_watch(workspace, "--once", "--format", "json")
    assert r.returncode == 1
    report = json.loads(r.stdout)
    assert [s["ok"] for s in report["sources"]] == [True, False]
    assert "no-such-dir" in report["sources"][1]["errors"][0]
    assert report["sources"][0]["rows"] == 10
    assert r.stderr.strip().splitlines()[-1].startswith("custodes: error: the cycle did not complete")


def test_the_guard_events_directory_is_a_source_out_of_the_box(workspace):
    events = workspace.root / "guard" / "access"
    no_guard_yet = run_cycle(workspace)
    assert no_guard_yet.ok and [s.name for s in no_guard_yet.sources] == ["guard"]
    events.mkdir(parents=True)
    access_jsonl(events / "access-20250414T100000-1.jsonl", first=0, n=30)
    access_jsonl(events / ".access-20250414T100100-1.jsonl.part", first=30, n=7, complete=False)  # in flight
    report = run_cycle(workspace)
    assert report.ok and report.sources[0].rows == 30
    assert sorted(lake_request_ids(workspace)) == sorted(f"r{i}" for i in range(30))


def test_the_default_source_is_where_guard_serve_writes():
    from custodes.guard.commands import guard

    serve = guard.commands["serve"]
    (events,) = [p for p in serve.params if p.name == "events_dir"]
    assert str(watch_config.GUARD_EVENTS) in events.help.replace("WORKSPACE/", "")


@pytest.mark.parametrize("sources,message", [
    ([{"dataset": "access", "path": "/x", "quiet": 0}],
     "sources[0] (access).quiet: unknown key; did you mean sources[0] (access).quiet_seconds?"),
    ([{"dataset": "access", "pathh": "/x"}], "sources[0] (access).path: Field required"),
    ([{"dataset": "acess", "path": "/x"}], "sources[0] (acess).dataset: Input should be 'access'"),
    ([{"dataset": "access", "path": "/x", "quiet_seconds": -1}], "sources[0] (access).quiet_seconds"),
    ([{"dataset": "access", "path": "/x", "name": "gw"}, {"dataset": "issuance", "path": "/y", "name": "gw"}],
     "sources: two are named 'gw'"),
    ({"dataset": "access"}, "sources: expected a list"),
])
def test_sources_are_checked_strictly(workspace, sources, message):
    configure(workspace, sources)
    with pytest.raises(CustodesError) as err:
        watch_config.load(workspace)
    assert message in str(err.value)
    report = run_cycle(workspace)  # the cycle fails loudly, and still alerts on what it has
    assert not report.ok and message in report.errors[0]


def test_relative_paths_are_taken_from_the_workspace(workspace):
    configure(workspace, [{"dataset": "access", "path": "incoming/", "map": "maps/nginx.yaml"}])
    (source,) = watch_config.load(workspace).values()
    assert source.path == str(workspace.root / "incoming") + "/" or source.path == str(workspace.root / "incoming")
    assert source.map == workspace.root / "maps" / "nginx.yaml"


def test_a_lake_whose_seal_chain_does_not_verify_fails_its_sources_loudly_every_cycle(workspace, src):
    """An insider who deletes the last ingest's manifest entry (to hide what it loaded): the
    lake refuses every further ingest; watch says so each cycle, loads nothing on top of the
    broken chain, and keeps the new file pending until the chain is repaired by a person."""
    from custodes.lake import manifest
    from custodes.watch.metrics import WatchCollector

    access_csv(src / "gw-0.csv", first=0, n=10)
    access_csv(src / "gw-1.csv", first=10, n=10)
    configure(workspace, [{"dataset": "access", "path": str(src), "quiet_seconds": 0}])
    assert run_cycle(workspace).ok
    manifest.entry_path(workspace, manifest.committed_seqs(workspace)[-1]).unlink()
    access_csv(src / "gw-2.csv", first=20, n=10)
    for _ in range(2):
        report = run_cycle(workspace)
        assert not report.ok and report.sources[0].rows == 0
        (error,) = report.sources[0].errors
        assert "truncated" in error, error  # the lake refused, in its own words
    samples = {(m.name, s.labels.get("source")): s.value for m in WatchCollector(workspace).collect()
               for s in m.samples}
    assert samples[("custodes_watch_source_up", "access")] == 0
    assert samples[("custodes_watch_source_pending_files", "access")] == 1
