"""Log rotation while watching, both kinds: a live log renamed away (and written on through
the writer's open descriptor) and a live log copied and truncated. Every complete line reaches
the lake exactly once; a line cut by the writer is loaded once it is whole."""

from __future__ import annotations

import os
import shutil
import threading
import time

import pytest

from custodes.lake.ingest import FileReport
from custodes.watch import run_cycle

from .conftest import access_jsonl, configure, lake_request_ids, watch_cmd

LIVE = {"quiet_seconds": 60, "max_wait_seconds": 300}
# Watch hands a rotated or grown file to ingest; loading only what it adds is the lake's part
# (branch lake-input, issue 13). Until the lake reports where it read a file from, these wait.
pytestmark = pytest.mark.skipif("from_byte" not in FileReport.__dataclass_fields__,
                                reason="the lake does not load a grown or rotated file from where it stopped yet")


@pytest.fixture
def logs(tmp_path):
    d = tmp_path / "gateway"
    d.mkdir()
    return d


def ids(n: int, first: int = 0) -> list[str]:
    return [f"r{i}" for i in range(first, first + n)]


def written_at(when: float, *paths) -> None:
    """The cycles below run on a clock of their own: files written "now" are dated to it."""
    for path in paths:
        os.utime(path, (when, when))


def test_rename_rotation_loads_each_line_once(workspace, logs):
    configure(workspace, [{"dataset": "access", "path": str(logs), "format": "jsonl", **LIVE}])
    live = logs / "gw.log"
    t = time.time()
    access_jsonl(live, 0, 100)
    assert run_cycle(workspace, now=t + 61).sources[0].rows == 100  # quiet
    writer = open(live, "a")  # the writer keeps its descriptor across the rename
    access_jsonl(live, 100, 50)
    access_jsonl(live, 150, 1, complete=False)  # a line cut in the middle
    written_at(t + 400, live)
    grown = run_cycle(workspace, now=t + 400)  # still growing, max_wait passed: complete lines only
    assert grown.ok and grown.sources[0].rows == 50
    os.rename(live, logs / "gw.log.1")
    writer.write("\n")  # the cut line ends, in the renamed file
    writer.close()
    access_jsonl(logs / "gw.log.1", 151, 20)
    access_jsonl(live, 171, 30)  # the new log
    written_at(t + 401, live, logs / "gw.log.1")
    rotated = run_cycle(workspace, now=t + 401)
    assert rotated.ok, rotated.all_errors()
    assert rotated.sources[0].rows == 21  # the renamed file's new lines, taken at once
    assert rotated.sources[0].waiting == 1  # the new log is being written: it waits
    later = run_cycle(workspace, now=t + 500)
    assert later.sources[0].rows == 30
    assert sorted(lake_request_ids(workspace)) == sorted(ids(201))


def test_copy_and_truncate_rotation_loads_each_line_once(workspace, logs):
    configure(workspace, [{"dataset": "access", "path": str(logs), "format": "jsonl", **LIVE}])
    live = logs / "gw.log"
    t = time.time()
    access_jsonl(live, 0, 100)
    assert run_cycle(workspace, now=t + 61).sources[0].rows == 100
    access_jsonl(live, 100, 40)
    shutil.copyfile(live, logs / "gw.log.1")  # logrotate copytruncate
    with open(live, "r+") as fh:
        fh.truncate(0)
    access_jsonl(live, 140, 25)
    written_at(t + 62, live, logs / "gw.log.1")
    rotated = run_cycle(workspace, now=t + 62)
    assert rotated.ok, rotated.all_errors()
    assert rotated.sources[0].rows == 40  # the copy is taken at once, and only its new lines load
    assert rotated.sources[0].waiting == 1  # the log itself is being written again
    later = run_cycle(workspace, now=t + 200)
    assert later.sources[0].rows == 25  # the truncated log, quiet now, is new content
    assert sorted(lake_request_ids(workspace)) == sorted(ids(165))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["rename", "copytruncate"])
def test_rotation_while_a_watch_runs(workspace, logs, kind):
    """A real watch process, a writer that never stops, and rotations every second or so."""
    import subprocess

    configure(workspace, [{"dataset": "access", "path": str(logs), "format": "jsonl", "quiet_seconds": 1,
                           "max_wait_seconds": 0.5}])
    proc = subprocess.Popen(watch_cmd(workspace, "--interval", "0.2"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=dict(os.environ))
    written = [0]
    stop = threading.Event()

    def write():
        live = logs / "gw.log"
        generation = 0
        while not stop.is_set():
            for _ in range(10):
                access_jsonl(live, written[0], 20)
                written[0] += 20
                time.sleep(0.1)
            generation += 1
            rotated = logs / f"gw.log.{generation}"
            if kind == "rename":
                os.rename(live, rotated)
            else:
                shutil.copyfile(live, rotated)
                with open(live, "r+") as fh:
                    fh.truncate(0)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        time.sleep(8)
    finally:
        stop.set()
        writer.join()
    deadline = time.time() + 120
    while time.time() < deadline and len(lake_request_ids(workspace)) < written[0]:
        time.sleep(0.5)
    proc.terminate()
    proc.wait(60)
    loaded = lake_request_ids(workspace)
    assert len(loaded) == len(set(loaded))  # nothing twice
    missing = sorted(set(ids(written[0])) - set(loaded), key=lambda r: int(r[1:]))
    assert not missing, _why_missing(workspace, logs, missing)  # nothing lost


def _why_missing(workspace, logs, missing: list[str]) -> str:
    """What a failure needs to be understood: the ids lost, the files, what watch and the lake recorded."""
    import json

    from custodes.lake import manifest
    from custodes.watch.state import WatchState

    files = {p.name: p.stat().st_size for p in sorted(logs.iterdir())}
    with WatchState.open(workspace) as state:
        records = [{k: r[k] for k in ("path", "ino", "size", "status", "error")} for r in state.all_files()]
    entries = [{"seq": e["seq"], "source": e.get("source")} for e in manifest.entries(workspace)]
    return json.dumps({"missing": [missing[0], missing[-1], len(missing)], "files": files, "watch": records,
                       "lake": entries}, default=str)[:20000]
