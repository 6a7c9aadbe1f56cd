"""A workspace run: incremental day by day gives the same findings as one --full run, finds
the forgery the day it starts, and keeps ids stable."""

from __future__ import annotations

import json

import pyarrow.compute as pc
import pytest

from custodes.detect import store as detect_store
from custodes.detect.run import detect
from custodes.workspace import Workspace

from . import lakefiles, world

FIRST_RUN_DAY = 6
REFERENCE = ("workforce", "credentials", "keys", "key_custody", "catalog")


def _day_slice(table, day, late_hour=None):
    """Rows of ``day``; with late_hour, rows of the previous day after that hour come late, too."""
    start = world.t(day)
    keep = pc.and_(pc.greater_equal(table["time"], start), pc.less(table["time"], world.t(day + 1)))
    if late_hour is not None:
        keep = pc.and_(keep, pc.less(table["time"], world.t(day, late_hour)))
    return table.filter(keep)


def _late(table, day, late_hour):
    return table.filter(pc.and_(pc.greater_equal(table["time"], world.t(day, late_hour)),
                                pc.less(table["time"], world.t(day + 1))))


#: What depends on when runs happened, not on the data: left out when runs are compared.
RUN_TIMES = ("detected_at", "severity_history")


def _comparable(items):
    """Findings or incidents without their run times, in a stable order."""
    return sorted(({k: v for k, v in f.items() if k not in RUN_TIMES} for f in items),
                  key=lambda f: json.dumps(f, sort_keys=True))


@pytest.fixture(scope="module")
def daily_and_full(world_tables, tmp_path_factory):
    daily = Workspace.open(tmp_path_factory.mktemp("daily") / "ws")
    full = Workspace.open(tmp_path_factory.mktemp("full") / "ws")
    seq = 0
    for name in REFERENCE:
        seq += 1
        lakefiles.store(daily, name, world_tables[name], seq)
        lakefiles.store(full, name, world_tables[name], seq)
    runs = []
    for day in range(world.DAYS):
        for name in ("access", "issuance"):
            seq += 1
            # the last hour of each day arrives late, with the next day's files
            parts = [_day_slice(world_tables[name], day, late_hour=23)]
            if day > 0:
                parts.append(_late(world_tables[name], day - 1, 23))
            import pyarrow as pa

            batch = pa.concat_tables(parts)
            lakefiles.store(daily, name, batch, seq)
            lakefiles.store(full, name, batch, seq)
        if day >= FIRST_RUN_DAY:  # one run on the first week, then daily
            runs.append(detect(daily))
    for name in ("access", "issuance"):
        seq += 1
        last = _late(world_tables[name], world.DAYS - 1, 23)
        lakefiles.store(daily, name, last, seq)
        lakefiles.store(full, name, last, seq)
    runs.append(detect(daily))
    detect(full, full=True)
    return daily, full, runs


def test_incremental_runs_equal_one_full_run(daily_and_full):
    daily, full, runs = daily_and_full
    assert runs[0].mode == "full" and all(r.mode == "incremental" for r in runs[1:])
    a, b = detect_store.load_findings(daily), detect_store.load_findings(full)
    assert a and _comparable(a) == _comparable(b)
    assert detect_store.load_incidents(daily) and _comparable(detect_store.load_incidents(daily)) == \
        _comparable(detect_store.load_incidents(full))


def test_daily_runs_name_the_forgery_on_its_first_day(daily_and_full):
    daily, _, _ = daily_and_full
    forged = [f for f in detect_store.load_findings(daily)
              if f["rule_id"] == "token.unissued" and f["window"] == "2025-04-09"]
    assert forged and forged[0]["severity"] == "critical"
    # found in the run whose data ended on the attack's first day (its late hour not yet in)
    assert forged[0]["detected_at"].startswith("2025-04-09")


def test_run_with_nothing_new_changes_nothing(daily_and_full):
    daily, _, _ = daily_and_full
    before = detect_store.load_findings(daily)
    summary = detect(daily)
    assert summary.new_findings == 0 and detect_store.load_findings(daily) == before


def test_results_are_private_files(daily_and_full):
    daily, _, _ = daily_and_full
    for name in ("findings.json", "incidents.json", "state.json"):
        assert (daily.detect / name).stat().st_mode & 0o077 == 0


def test_incidents_group_the_forgery_with_its_key_and_custodian(daily_and_full):
    daily, _, _ = daily_and_full
    incidents = detect_store.load_incidents(daily)
    forgery = [i for i in incidents if "token.unissued" in i["rule_ids"]]
    assert len(forgery) == 1
    inc = forgery[0]
    assert inc["severity"] == "critical"
    assert {"key.departed_custodian", "account.new_origin"} <= set(inc["rule_ids"])
    assert "k-old" in inc["entities"]["kid"] and "e-dev" in inc["entities"]["employee_id"]
    assert "issuance.ledger_gap" not in inc["rule_ids"]  # a benign gap never joins an attack
    findings = {f["finding_id"]: f for f in detect_store.load_findings(daily)}
    assert all(findings[fid]["incident_id"] == inc["incident_id"] for fid in inc["finding_ids"])
    insider = [i for i in incidents if "employee.many_customers" in i["rule_ids"]]
    assert len(insider) == 1 and insider[0]["entities"]["actor_id"] == ["e4"]


def _two_ingests(tmp_path, world_tables):
    """A workspace holding days 0-8 (one ingest each for access and issuance, seq 10 and 11)
    after one run, then day 9 (seq 12, 13) not yet run."""
    ws = Workspace.open(tmp_path / "ws")
    for seq, name in enumerate(REFERENCE, start=1):
        lakefiles.store(ws, name, world_tables[name], seq)
    for seq, name in ((10, "access"), (11, "issuance")):
        table = world_tables[name]
        lakefiles.store(ws, name, table.filter(pc.less(table["time"], world.t(9))), seq)
    detect(ws)
    for seq, name in ((12, "access"), (13, "issuance")):
        table = world_tables[name]
        lakefiles.store(ws, name, table.filter(pc.greater_equal(table["time"], world.t(9))), seq)
    return ws


def test_a_torn_or_foreign_day_cache_file_is_recomputed_not_trusted(world_tables, tmp_path):
    """The day cache is derived data: a file that fails to read (a crash mid-write, or anyone
    who can write the workspace) is recomputed from the lake, and the run still equals a
    full one."""
    ws = _two_ingests(tmp_path, world_tables)
    files = sorted((ws.detect / "cache").rglob("*.parquet"))
    assert files
    files[-1].write_bytes(b"not parquet")
    files[0].write_bytes(files[0].read_bytes()[:40])
    assert detect(ws).mode == "incremental"
    after = detect_store.load_findings(ws)
    detect(ws, full=True)
    assert _comparable(after) == _comparable(detect_store.load_findings(ws))


def test_a_lake_that_lost_rows_since_the_last_run_is_judged_anew(world_tables, tmp_path):
    """Restoring the lake from an older copy (the last day's ingest gone) must not leave the
    findings of rows that no longer exist: the run sees fewer rows than the last one did and
    recomputes everything."""
    ws = _two_ingests(tmp_path, world_tables)
    detect(ws)
    assert any(f["window"] == "2025-04-10" for f in detect_store.load_findings(ws))
    for path in ws.lake.rglob("part-00001[23].parquet"):
        path.unlink()
    assert detect(ws).mode == "full"
    assert not any(f["window"] == "2025-04-10" for f in detect_store.load_findings(ws))


def test_two_runs_at_once_take_turns(world_tables, tmp_path):
    """Watch's cycle and a person's `custodes detect` on one workspace: the second waits for
    the first instead of both rewriting the state, the day cache and the findings."""
    import threading
    import time

    from custodes.detect import run as detect_run

    ws = _two_ingests(tmp_path, world_tables)
    inside, overlaps = [], []
    real = detect_run._detect

    def slow(*args, **kwargs):
        overlaps.append(len(inside))
        inside.append(1)
        time.sleep(0.5)
        try:
            return real(*args, **kwargs)
        finally:
            inside.pop()

    detect_run._detect = slow
    try:
        threads = [threading.Thread(target=detect, args=(ws,)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        detect_run._detect = real
    assert overlaps == [0, 0]
    detect(ws, full=True)
    full = detect_store.load_findings(ws)
    assert full and any(f["window"] == "2025-04-10" for f in full)
