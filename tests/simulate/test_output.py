"""The files a simulation writes: layout, contract schemas, permissions, determinism."""

from __future__ import annotations

import csv
import hashlib
import re
import stat

import pyarrow.parquet as pq
import pytest

from custodes import contract
from custodes.simulate import simulate
from custodes.simulate.reference import REFERENCE_FILES
from custodes.simulate.writer import read_back


def digests(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout_has_every_dataset_and_a_file_per_day(world_dir):
    for name in ("access", "issuance"):
        days = sorted(p.name for p in (world_dir / name).iterdir())
        assert days[0] == "2025-02-03.parquet" and days[-1] == "2025-02-14.parquet" and len(days) == 12
    for filename in REFERENCE_FILES:
        assert (world_dir / filename).is_file()
    assert (world_dir / "ground_truth.json").is_file()
    assert not [p for p in world_dir.rglob(".*")], "no in-flight files left behind"


@pytest.mark.parametrize("dataset", ["access", "issuance"])
def test_event_files_have_the_contract_schema_and_are_time_ordered(world_dir, dataset):
    want = contract.schema(dataset)
    for path in sorted((world_dir / dataset).iterdir()):
        table = pq.read_table(path)
        assert table.column_names == want.names
        assert [f.type for f in table.schema] == [f.type for f in want]
        for name in contract.required_columns(dataset):
            assert table.column(name).null_count == 0, (path.name, name)
        times = table.column("time").to_numpy()
        assert (times[1:] >= times[:-1]).all()


@pytest.mark.parametrize("filename", list(REFERENCE_FILES))
def test_reference_files_read_back_with_the_contract_schema(world_dir, filename):
    dataset = REFERENCE_FILES[filename][0]
    table = read_back(dataset, world_dir / filename)
    want = contract.schema(dataset)
    assert table.column_names == want.names
    assert [f.type for f in table.schema] == [f.type for f in want]
    for name in contract.required_columns(dataset):
        assert table.column(name).null_count == 0
    assert table.num_rows > 0


def test_csv_timestamps_are_rfc3339_with_z(world_dir):
    with open(world_dir / "workforce.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        hired = row["hired_at"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", hired), hired
    assert any(row["terminated_at"] == "" for row in rows), "an empty cell is a null"


def test_enumerated_values_stay_in_the_contract_vocabularies(db):
    for (dataset, col), allowed in contract.ENUMS.items():
        seen = {row[0] for row in db.execute(f"SELECT DISTINCT {col} FROM {dataset} WHERE {col} IS NOT NULL").fetchall()}
        assert seen <= allowed, (dataset, col, seen - allowed)


def test_catalog_covers_every_route_in_access(db):
    missing = db.execute("SELECT DISTINCT route FROM access WHERE route NOT IN (SELECT route FROM catalog)").fetchall()
    assert missing == []


def test_ids_are_unique(db):
    dup_requests = db.execute("SELECT count(*) - count(DISTINCT request_id) FROM access").fetchone()[0]
    dup_tokens = db.execute("SELECT count(*) - count(DISTINCT token_id) FROM issuance").fetchone()[0]
    assert dup_requests == 0 and dup_tokens == 0


def test_every_file_is_private(world_dir):
    for path in [world_dir, *world_dir.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


def test_same_seed_writes_identical_files_whatever_the_workers(tmp_path):
    a = simulate(tmp_path / "a", customers=300, days=4, seed=5, workers=1)
    b = simulate(tmp_path / "b", customers=300, days=4, seed=5, workers=2)
    assert a.counts == b.counts
    assert digests(tmp_path / "a") == digests(tmp_path / "b")


def test_a_different_seed_writes_a_different_world(tmp_path):
    simulate(tmp_path / "a", customers=300, days=4, seed=5)
    simulate(tmp_path / "b", customers=300, days=4, seed=6)
    a, b = digests(tmp_path / "a"), digests(tmp_path / "b")
    assert a.keys() == b.keys()
    assert all(a[name] != b[name] for name in a if name.startswith(("access/", "issuance/")))
    assert a["customers.parquet"] != b["customers.parquet"]


def test_rerun_into_the_same_directory_replaces_the_old_days(tmp_path):
    simulate(tmp_path / "w", customers=200, days=5, seed=1)
    simulate(tmp_path / "w", customers=200, days=3, seed=1)
    assert len(list((tmp_path / "w" / "access").iterdir())) == 3
