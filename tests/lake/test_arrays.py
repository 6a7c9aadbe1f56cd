"""custodes.lake.arrays: numpy to Arrow and back, equal to pyarrow's own conversions, and an
ingest of each format that never imports pandas (pyarrow's shim would, on the first batch)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from custodes.lake import arrays

from .conftest import access_row, write_csv, write_jsonl


def test_int64s_with_and_without_nulls():
    values = np.array([5, -1, 7, 2**62], dtype=np.int64)
    assert arrays.int64s(values).equals(pa.array(values))
    valid = np.array([True, False, True, False])
    got = arrays.int64s(values, valid)
    assert got.to_pylist() == [5, None, 7, None] and got.null_count == 2
    assert arrays.int64s(values, np.ones(4, dtype=bool)).null_count == 0


def test_row_numbers_and_bools():
    assert arrays.row_numbers(10, 3).to_pylist() == [10, 11, 12]
    assert arrays.row_numbers(1, 0).to_pylist() == []
    flags = np.array([True, False, False, True, True, False, True, False, True])  # more than a byte
    assert arrays.bools(flags).to_pylist() == flags.tolist()


@pytest.mark.parametrize("offset", [0, 3, 9])
def test_numbers_and_masks_of_sliced_arrays_with_nulls(offset):
    source = pa.array([None if i % 4 == 1 else i * 1000 for i in range(20)], pa.int64()).slice(offset)
    assert arrays.numbers(source, fill=-7).tolist() == [-7 if v is None else v for v in source.to_pylist()]
    assert arrays.valid_mask(source).tolist() == [v is not None for v in source.to_pylist()]
    flags = pa.array([None if i % 5 == 0 else i % 2 == 0 for i in range(20)]).slice(offset)
    assert arrays.truths(flags).tolist() == [bool(v) for v in flags.to_pylist()]


def test_numbers_of_times_and_chunks():
    times = pa.chunked_array([pa.array([0, 86_400_000_001], pa.timestamp("us", tz="UTC")),
                              pa.array([5], pa.timestamp("us", tz="UTC"))])
    assert arrays.numbers(times).tolist() == [0, 86_400_000_001, 5]
    big = pa.array([2**64 - 1], pa.uint64())
    assert arrays.numbers(big).dtype == np.uint64 and int(arrays.numbers(big)[0]) == 2**64 - 1


def test_scalars():
    assert arrays.text("").as_py() == "" and arrays.text("é").as_py() == "é"
    assert arrays.null(pa.string()).as_py() is None and arrays.null(pa.string()).type == pa.string()
    assert arrays.int64(-3).as_py() == -3


CHILD = textwrap.dedent("""
    import sys
    from custodes.workspace import Workspace
    from custodes.lake import ingest
    ws = Workspace.open(sys.argv[1])
    for path in sys.argv[2:]:
        report = ingest(ws, "access", [path])
        assert report.rows == 40 and report.quarantined == 0, report.to_dict()
    print("pandas" in sys.modules)
""")


def test_a_clean_ingest_of_each_format_never_imports_pandas(tmp_path):
    rows = [access_row(i) for i in range(40)]
    csv_file = write_csv(tmp_path / "a.csv", rows)
    json_file = write_jsonl(tmp_path / "b.jsonl", [access_row(100 + i) for i in range(40)])
    parquet_file = tmp_path / "c.parquet"
    table = pa.Table.from_pylist([access_row(200 + i) for i in range(40)])
    pq.write_table(table, parquet_file)
    out = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "ws"), str(csv_file), str(json_file),
                          str(parquet_file)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
