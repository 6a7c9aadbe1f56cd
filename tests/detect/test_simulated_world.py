"""End to end on a simulated world: simulate -> custodes.lake.ingest -> detect, scored against
the simulator's ground truth: every scenario named at high or critical, nothing high without a
scenario, and each incident's requests covering exactly the scenario's accounts."""

from __future__ import annotations

from pathlib import Path

import pytest

from custodes.workspace import Workspace

REFERENCE = ("workforce", "credentials", "keys", "key_custody", "catalog")


def _load(ws, sim: Path, skip=()):
    from custodes.lake import ingest

    for name in REFERENCE:
        ingest(ws, name, [sim / f"{name}.csv"])
    for name in ("access", "issuance"):
        if name not in skip:
            ingest(ws, name, sorted((sim / name).glob("*.parquet")))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from custodes.detect.run import detect
    from custodes.simulate import simulate

    root = tmp_path_factory.mktemp("sim")
    simulate(root / "sim", customers=600, days=21, seed=3)
    ws = Workspace.open(root / "ws")
    _load(ws, root / "sim")
    detect(ws)
    return root / "sim", ws


def test_every_scenario_is_named_at_high_and_nothing_else_is(world):
    from custodes.detect.store import load_incidents
    from custodes.detect.truth import compare, load_truth

    sim, ws = world
    result = compare(load_incidents(ws), load_truth(sim))
    assert set(result["scenarios"]) == {"key_forgery", "departed_credential", "curious_insider"}
    for name, s in result["scenarios"].items():
        assert s["detected"], name
    assert {"kid", "src_ip", "employee_id"} <= set(result["scenarios"]["key_forgery"]["indicators"])
    assert "credential_id" in result["scenarios"]["departed_credential"]["indicators"]
    assert result["unexplained_high"] == []


def test_incident_requests_are_exactly_each_scenarios_accounts(world):
    from custodes.detect.evidence import incident_requests
    from custodes.detect.store import load_incidents
    from custodes.detect.truth import compare, load_truth
    from custodes.engine import connect

    sim, ws = world
    truth = {s["name"]: s for s in load_truth(sim)["scenarios"]}
    result = compare(load_incidents(ws), load_truth(sim))
    engine = connect(ws, "duckdb")
    for name, s in result["scenarios"].items():
        rows = incident_requests(engine, ws, s["incident_id"])
        accounts = set(engine.to_arrow(rows.select("account_id")).column("account_id").to_pylist()) - {None}
        assert accounts == truth[name]["account_set"], name
