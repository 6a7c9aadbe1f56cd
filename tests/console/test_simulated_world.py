"""The console over a simulated platform really ingested into the lake: credential posture names
exactly the key and the credential that the simulator's scenarios abuse (ground truth)."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from custodes.console.app import create_app
from custodes.console.posture import posture
from custodes.console.sources import Sources
from custodes.console.users import UserStore
from custodes.engine import connect
from custodes.workspace import Workspace

from .helpers import PASSWORDS, login

simulate_mod = pytest.importorskip("custodes.simulate", reason="the simulator is not in this build")
lake = pytest.importorskip("custodes.lake", reason="the lake capability is not in this build")


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    root = tmp_path_factory.mktemp("simworld")
    sim = root / "world"
    simulate_mod.simulate(sim, customers=100, days=10, seed=11)
    ws = Workspace.open(root / "ws")
    for dataset in ("access", "issuance"):
        lake.ingest(ws, dataset, [sim / dataset])
    for dataset in ("workforce", "credentials", "keys", "key_custody"):
        lake.ingest(ws, dataset, [sim / f"{dataset}.csv"])
    truth = {s["name"]: s for s in json.loads((sim / "ground_truth.json").read_text())["scenarios"]}
    return ws, truth


def test_posture_names_the_scenarios_key_and_credential(simulated):
    ws, truth = simulated
    with connect(ws) as engine:
        result = posture(engine)
    forged_kid = truth["key_forgery"]["indicators"]["kid"][0]
    custodian = truth["key_forgery"]["indicators"]["employee_id"][0]
    assert (forged_kid, custodian) in {(r["kid"], r["employee_id"]) for r in result["departed_custodians"]}
    departed = truth["departed_credential"]["indicators"]["credential_id"][0]
    creds = {r["credential_id"]: r for r in result["departed_credentials"]}
    assert creds[departed]["uses_after_leaving"] > 0
    # properly offboarded leavers (a look-alike) are not listed as still holding live credentials
    assert all(r["uses_after_leaving"] == 0 for cid, r in creds.items() if cid != departed)


def test_posture_page_over_the_simulated_lake(simulated):
    ws, truth = simulated
    UserStore.of(ws, log2_n=12).add("vera", "viewer", PASSWORDS["vera"], replace=True)
    app = create_app(ws, sources=Sources(ws), allowed_hosts=["testserver"])
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as c:
        assert login(c, "vera").status_code == 303
        html = c.get("/posture").text
        assert truth["key_forgery"]["indicators"]["kid"][0] in html
        assert truth["departed_credential"]["indicators"]["credential_id"][0] in html
        html = c.get("/lake").text
        assert "access" in html and "issuance" in html
