"""StagedWriter: day files of time-ordered input are sealed as soon as a later day starts, every
file's digest is that of the file renamed into place, and an abort leaves nothing staged."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq

from custodes.lake import store as store_mod
from custodes.lake.seal import file_sha256
from custodes.lake.store import StagedWriter, stored_schema

UTC = dt.timezone.utc


def _rows(day: int, n: int, first: int) -> pa.Table:
    schema = stored_schema("access")
    start = dt.datetime(2025, 4, day, tzinfo=UTC)
    columns = {f.name: pa.nulls(n, f.type) for f in schema}
    columns["time"] = pa.array([start + dt.timedelta(seconds=i) for i in range(n)], pa.timestamp("us", tz="UTC"))
    columns["request_id"] = pa.array([f"r-{first + i}" for i in range(n)], pa.string())
    columns["_row"] = pa.array(range(first, first + n), pa.int64())
    return pa.table(columns, schema=schema)


def _check(root, stored, expected_rows: dict[str, int]) -> None:
    by_day: dict[str, int] = {}
    for f in stored:
        path = root / f.path
        assert file_sha256(path) == (f.sha256, f.bytes)
        assert pq.read_metadata(path).num_rows == f.rows
        by_day[path.parent.name] = by_day.get(path.parent.name, 0) + f.rows
    assert by_day == expected_rows
    assert not list(root.rglob(".*.tmp"))


def test_in_order_days_are_sealed_when_the_next_day_starts(tmp_path):
    w = StagedWriter(tmp_path, "access", 1)
    w.close_days_before("2025-04-14")
    w.write(_rows(14, 10, 0), "2025-04-14")
    w.close_days_before("2025-04-15")  # the 14th is complete
    assert [p.final.parent.name for p in w._done] == ["date=2025-04-14"] and w._done[0].sealed is not None
    w.write(_rows(15, 5, 10), "2025-04-15")
    w.write(_rows(15, 5, 15), "2025-04-15")
    stored = w.finish()
    assert len(stored) == 2
    _check(tmp_path, stored, {"date=2025-04-14": 10, "date=2025-04-15": 10})


def test_a_day_written_after_a_later_one_stops_early_sealing(tmp_path):
    w = StagedWriter(tmp_path, "access", 1)
    w.write(_rows(14, 4, 0), "2025-04-14")
    w.close_days_before("2025-04-15")
    w.write(_rows(15, 4, 4), "2025-04-15")
    w.write(_rows(14, 3, 8), "2025-04-14")  # late rows: the sealed file stays sealed, a second part opens
    w.close_days_before("2025-04-16")  # out of order now: nothing is closed early any more
    assert len(w._done) == 1
    w.write(_rows(16, 2, 11), "2025-04-16")
    stored = w.finish()
    assert len(stored) == 4
    _check(tmp_path, stored, {"date=2025-04-14": 7, "date=2025-04-15": 4, "date=2025-04-16": 2})


def test_a_batch_that_goes_back_in_time_closes_nothing_early(tmp_path):
    w = StagedWriter(tmp_path, "access", 1)
    w.write_days([("2025-04-11", _rows(11, 2, 0)), ("2025-04-15", _rows(15, 2, 2))])
    w.close_days_before("2025-04-13")  # before the latest day written: the input is out of order
    w.write(_rows(13, 2, 4), "2025-04-13")
    w.write(_rows(11, 2, 6), "2025-04-11")
    assert not w._done
    stored = w.finish()
    assert len(stored) == 3  # one file a day
    _check(tmp_path, stored, {"date=2025-04-11": 4, "date=2025-04-13": 2, "date=2025-04-15": 2})


def test_parts_rolled_over_by_size_are_sealed_too(tmp_path, monkeypatch):
    monkeypatch.setattr(store_mod, "ROWS_PER_FILE", 6)
    w = StagedWriter(tmp_path, "access", 1)
    for i in range(4):
        w.write(_rows(14, 4, 4 * i), "2025-04-14")
    stored = w.finish()
    assert len(stored) == 2  # 8 rows, then 8 more in a new part
    _check(tmp_path, stored, {"date=2025-04-14": 16})


def test_abort_removes_sealed_and_open_staged_files(tmp_path):
    w = StagedWriter(tmp_path, "access", 1)
    w.write(_rows(14, 4, 0), "2025-04-14")
    w.close_days_before("2025-04-15")
    w.write(_rows(15, 4, 4), "2025-04-15")
    w.abort()
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_abort_removes_every_staged_file_even_when_closing_one_fails(tmp_path):
    w = StagedWriter(tmp_path, "access", 1)
    w.write_days([("2025-04-14", _rows(14, 4, 0)), ("2025-04-15", _rows(15, 4, 4)), ("2025-04-16", _rows(16, 4, 8))])

    class FailingWriter:  # as a full disk would make the first file's close fail
        def close(self):
            raise OSError(28, "No space left on device")

    w._open["2025-04-14"].writer = FailingWriter()
    w.abort()
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_the_pieces_of_a_batch_are_written_to_their_days_in_order(tmp_path, monkeypatch):
    monkeypatch.setattr(store_mod, "ROWS_PER_FILE", 5)
    w = StagedWriter(tmp_path, "access", 1)
    w.write_days([("2025-04-14", _rows(14, 3, 0)), ("2025-04-15", _rows(15, 4, 3)), ("2025-04-16", _rows(16, 0, 7))])
    # the same day twice in one call (a part rolls over between them): one piece at a time
    w.write_days([("2025-04-15", _rows(15, 2, 7)), ("2025-04-15", _rows(15, 6, 9))])
    stored = w.finish()
    _check(tmp_path, stored, {"date=2025-04-14": 3, "date=2025-04-15": 12})
    rows = sorted(r for f in stored if "04-15" in f.path
                  for r in pq.read_table(tmp_path / f.path, columns=["_row"]).column(0).to_pylist())
    assert rows == list(range(3, 15))
    assert len([f for f in stored if "04-15" in f.path]) == 2  # 4 + 2 rows, then 6 in a new part
