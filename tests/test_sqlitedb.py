"""The workspace's SQLite stores: private files, and opened by many processes at once."""

import multiprocessing
import os
import stat

from custodes.sqlitedb import connect

SCHEMA = "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL); CREATE INDEX things_name ON things(name)"


def _open_and_write(path: str, start, results) -> None:
    start.wait()
    try:
        db = connect(__import__("pathlib").Path(path), SCHEMA, 1, power_safe=False)
        db.execute("INSERT INTO things(name) VALUES ('x')")
        db.close()
        results.put("ok")
    except Exception as exc:  # noqa: BLE001 - the test reports what any process met
        results.put(repr(exc))


def test_processes_opening_a_new_store_at_once_create_it_once_and_lose_nothing(tmp_path):
    """watch and a person's command (or the console) may open the outbox the first time together:
    the one that waits must neither create the tables again nor truncate what the other wrote."""
    ctx = multiprocessing.get_context("fork")
    for attempt in range(15):
        path = tmp_path / f"store-{attempt}" / "s.db"
        start, results = ctx.Barrier(4), ctx.Queue()
        procs = [ctx.Process(target=_open_and_write, args=(str(path), start, results)) for _ in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        outcomes = [results.get(timeout=5) for _ in procs]
        assert outcomes == ["ok"] * 4, (attempt, outcomes)
        db = connect(path, SCHEMA, 1)
        assert db.execute("SELECT count(*) FROM things").fetchone()[0] == 4
        db.close()
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
