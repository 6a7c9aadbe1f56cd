"""Scope on a simulated platform, scored against the simulator's ground truth.

The world goes through the real lake (custodes.lake.ingest); the catalog is registered directly
(reference data, docs/ARCHITECTURE.md allows it) so that fields are checked even while the
lake's catalog ingest is being finished. Expected fields are computed here independently, with
plain Python sets over the simulator's own files.
"""

from __future__ import annotations

import collections
import datetime as dt
import json

import pyarrow.csv as pcsv
import pyarrow.dataset as ds
import pytest

from custodes import contract
from custodes.engine import connect
from custodes.respond import Selector, scope
from custodes.respond.scope import accounts_table

simulate_mod = pytest.importorskip("custodes.simulate")
lake_mod = pytest.importorskip("custodes.lake")

REFERENCE = {"workforce.csv": "workforce", "credentials.csv": "credentials", "keys.csv": "keys",
             "key_custody.csv": "key_custody", "customers.parquet": "customers"}


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    from custodes.workspace import Workspace

    root = tmp_path_factory.mktemp("sim")
    out = root / "world"
    simulate_mod.simulate(out, customers=1500, days=14, seed=11)
    ws = Workspace.open(root / "ws")
    for dataset in ("access", "issuance"):
        lake_mod.ingest(ws, dataset, [out / dataset])
    for filename, dataset in REFERENCE.items():
        lake_mod.ingest(ws, dataset, [out / filename])
    truth = json.loads((out / "ground_truth.json").read_text())
    return out, ws, {s["name"]: s for s in truth["scenarios"]}


@pytest.fixture
def engine(sim):
    out, ws, _ = sim
    with connect(ws, "duckdb") as e:
        e.register("catalog", contract.conform("catalog", pcsv.read_csv(out / "catalog.csv")))
        yield e


def window(s):
    parse = lambda v: dt.datetime.fromisoformat(v.replace("Z", "+00:00"))  # noqa: E731
    return parse(s["start"]), parse(s["end"]) + dt.timedelta(seconds=1)


def truth_accounts(out, s) -> set[str]:
    return set((out / s["accounts"]).read_text().split())


def expected_fields(out, column, value, since, until) -> dict[str, set[str]]:
    """Per account, the items of every route its scenario requests hit, from the raw files."""
    catalog = pcsv.read_csv(out / "catalog.csv").to_pylist()
    items = {r["route"]: {i for i in (r["fields"] or "").split(";") if i} for r in catalog}
    raw = ds.dataset(out / "access", format="parquet").to_table(
        filter=(ds.field(column) == value) & (ds.field("time") >= since) & (ds.field("time") < until),
        columns=["route", "account_id", "actor_id", "actor_type"])
    per = collections.defaultdict(set)
    for r in raw.to_pylist():
        acct = r["account_id"] or (r["actor_id"] if r["actor_type"] == "customer" else None)
        if acct:
            per[acct] |= items.get(r["route"], set())
    return per


@pytest.mark.parametrize("name, kind, indicator, column", [
    ("departed_credential", "credential", "credential_id", "credential_id"),
    ("curious_insider", "actor", "actor_id", "actor_id"),
])
def test_indicator_scope_equals_ground_truth(sim, engine, name, kind, indicator, column):
    out, ws, scenarios = sim
    s = scenarios[name]
    value = s["indicators"][indicator][0]
    since, until = window(s)
    result = scope(engine, ws, Selector(kind, value), since, until)
    table = accounts_table(engine, result)
    got = dict(zip(table.column("account_id").to_pylist(), table.column("fields").to_pylist()))
    assert set(got) == truth_accounts(out, s)  # precision and recall 1.0
    assert (result.requests, result.records) == (s["requests"], s["records"])
    expected = expected_fields(out, column, value, since, until)
    assert {a: set(f.split(";")) - {""} for a, f in got.items()} == {a: expected[a] for a in got}
    counts = collections.Counter(i for its in expected.values() for i in its)
    assert result.fields == dict(counts)


def test_forgery_scope_by_attacker_addresses_equals_ground_truth(sim, engine):
    out, ws, scenarios = sim
    s = scenarios["key_forgery"]
    since, until = window(s)
    got, requests = set(), 0
    for ip in s["indicators"]["src_ip"]:
        result = scope(engine, ws, Selector("src_ip", ip), since, until)
        got |= set(accounts_table(engine, result).column("account_id").to_pylist())
        requests += result.requests
    assert got == truth_accounts(out, s) and requests == s["requests"]


def test_employee_scope_of_the_departed_custodian_misses_nobody(sim, engine):
    """--employee follows never-issued tokens signed by the custodian's keys: every forged read
    is in it; the issuance log's small random gaps may add a legitimate token or two."""
    out, ws, scenarios = sim
    s = scenarios["key_forgery"]
    result = scope(engine, ws, Selector("employee", s["indicators"]["employee_id"][0]), *window(s))
    got = set(accounts_table(engine, result).column("account_id").to_pylist())
    truth = truth_accounts(out, s)
    assert truth <= got and len(got - truth) <= max(2, len(truth) // 100)


def test_incident_scope_covers_each_scenario(sim, engine):
    """scope --incident over detect's evidence is each scenario's ground truth exactly: a customer
    whose ledger rows were lost is left out by hindsight corroboration (docs/detect.md)."""
    detect_run = pytest.importorskip("custodes.detect.run")
    from custodes.detect.store import load_incidents

    out, ws, scenarios = sim
    detect_run.detect(ws, engine=engine, full=True)
    incidents = [i for i in load_incidents(ws) if i["severity"] in ("high", "critical")]
    truths = {n: truth_accounts(out, s) for n, s in scenarios.items()}
    matched = set()
    for incident in incidents:
        result = scope(engine, ws, Selector("incident", incident["incident_id"]))
        got = set(accounts_table(engine, result).column("account_id").to_pylist())
        name = max(truths, key=lambda n: len(truths[n] & got))
        assert got == truths[name], name  # precision and recall 1.0
        matched.add(name)
    assert "key_forgery" in matched  # which scenarios reach high is detect's to test
