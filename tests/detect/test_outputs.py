"""Incident grouping, OCSF export, evidence rows and the CLI on a stored run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from custodes.cli import cli
from custodes.detect import incidents as grouping
from custodes.detect.ocsf import to_ocsf
from custodes.detect.run import detect
from custodes.workspace import Workspace

from . import lakefiles


@pytest.fixture(scope="module")
def stored(world_tables, tmp_path_factory):
    ws = Workspace.open(tmp_path_factory.mktemp("out") / "ws")
    for seq, (name, table) in enumerate(world_tables.items(), start=1):
        lakefiles.store(ws, name, table, seq)
    detect(ws, full=True)
    return ws


def run(ws, *args):
    result = CliRunner().invoke(cli, ["--workspace", str(ws.root), *args], catch_exceptions=False)
    return result


def _finding(fid, first, last, severity="high", **entities):
    ents = {k: [] for k in ("kid", "src_ip", "credential_id", "actor_id", "employee_id")}
    ents.update(entities)
    return {"finding_id": fid, "rule_id": "r", "title": fid, "severity": severity, "first_seen": first,
            "last_seen": last, "detected_at": last, "entities": ents, "evidence": {}}


def test_grouping_joins_shared_entities_within_the_window_only():
    fs = [
        _finding("a", "2025-04-01T00:00:00Z", "2025-04-01T05:00:00Z", kid=["k1"]),
        _finding("b", "2025-04-02T00:00:00Z", "2025-04-02T05:00:00Z", kid=["k1"], src_ip=["1.1.1.1"]),
        _finding("c", "2025-04-03T00:00:00Z", "2025-04-03T05:00:00Z", src_ip=["1.1.1.1"], severity="critical"),
        _finding("d", "2025-06-01T00:00:00Z", "2025-06-01T05:00:00Z", kid=["k1"]),  # months later
        _finding("e", "2025-04-02T00:00:00Z", "2025-04-02T05:00:00Z", severity="low", kid=["k1"]),
    ]
    incidents = grouping.group(fs)
    sets = sorted(sorted(i["finding_ids"]) for i in incidents)
    assert sets == [["a", "b", "c"], ["d"], ["e"]]
    abc = next(i for i in incidents if "a" in i["finding_ids"])
    assert abc["severity"] == "critical" and abc["entities"]["kid"] == ["k1"]
    assert abc["first_seen"] == "2025-04-01T00:00:00Z" and abc["last_seen"] == "2025-04-03T05:00:00Z"
    again = grouping.group([dict(f) for f in reversed(fs)])
    assert sorted(i["incident_id"] for i in again) == sorted(i["incident_id"] for i in incidents)


def test_cli_findings_json_is_the_contract(stored):
    result = run(stored, "findings", "--format", "json", "--severity", "high")
    assert result.exit_code == 0
    items = json.loads(result.stdout)
    assert items and all(f["severity"] in ("high", "critical") for f in items)
    assert all(f["incident_id"] and f["incident_id"].startswith("i-") for f in items)
    assert not any(k.startswith("_") for f in items for k in f)


def test_cli_findings_since_and_ocsf(stored):
    result = run(stored, "findings", "--since", "2025-04-10T00:00:00Z", "--format", "ocsf")
    assert result.exit_code == 0
    events = json.loads(result.stdout)
    assert events and all(e["class_uid"] == 2004 and e["type_uid"] == 200401 for e in events)
    assert all(e["finding_info"]["last_seen_time"] >= 1744243200000 for e in events)
    crit = [e for e in events if e["severity_id"] == 5]
    assert crit and crit[0]["finding_info"]["attacks"][0]["technique"]["uid"] == "T1606"


def test_cli_incidents_and_detect_summary(stored):
    result = run(stored, "incidents", "--format", "json")
    assert result.exit_code == 0
    incidents = json.loads(result.stdout)
    assert {"incident_id", "title", "severity", "first_seen", "last_seen", "finding_ids", "entities"} <= set(incidents[0])
    assert incidents[0]["severity"] == "critical"
    text = run(stored, "detect")
    assert text.exit_code == 0 and "incremental run" in text.stdout
    js = run(stored, "detect", "--full", "--format", "json")
    assert json.loads(js.stdout)["mode"] == "full"


def test_cli_errors_are_one_line(tmp_path):
    from custodes.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["--workspace", str(tmp_path / "empty"), "findings"])
    assert exit_.value.code == 1
    with pytest.raises(SystemExit) as exit_:
        main(["--workspace", str(tmp_path / "empty"), "detect"])
    assert exit_.value.code == 1
    result = run(Workspace.open(tmp_path / "e2"), "findings", "--severity", "huge")
    assert result.exit_code == 2


def test_ocsf_maps_severity_and_observables():
    f = _finding("f-1", "2025-04-01T00:00:00Z", "2025-04-01T05:00:00Z", severity="critical",
                 kid=["k1"], src_ip=["1.2.3.4"])
    f.update(attack=["T1606"], incident_id="i-1")
    event = to_ocsf(f)
    assert event["severity_id"] == 5 and event["metadata"]["correlation_uid"] == "i-1"
    assert {"name": "src_ip", "type_id": 2, "type": "IP Address", "value": "1.2.3.4"} in event["observables"]


def test_incident_requests_are_the_forged_requests_only(stored):
    from custodes.detect.evidence import incident_requests
    from custodes.detect.store import load_incidents
    from custodes.engine import connect

    engine = connect(stored, "duckdb")
    forgery = next(i for i in load_incidents(stored) if "token.unissued" in i["rule_ids"])
    rows = engine.to_arrow(incident_requests(engine, stored, forgery["incident_id"])).to_pylist()
    assert len(rows) == 200
    assert {r["account_id"] for r in rows} == {f"c{i:04d}" for i in range(100, 300)}
    assert all(r["credential_id"].startswith("forged-") for r in rows)
    insider = next(i for i in load_incidents(stored) if "employee.many_customers" in i["rule_ids"])
    reads = engine.to_arrow(incident_requests(engine, stored, insider["incident_id"])).to_pylist()
    assert {r["actor_id"] for r in reads} == {"e4"} and len(reads) == 158
    from custodes.errors import CustodesError

    with pytest.raises(CustodesError, match="unknown incident 'i-nope'; see `custodes incidents`"):
        incident_requests(engine, stored, "i-nope")


def test_evidence_stands_apart_from_the_run_orchestrator():
    """Scope reads evidence; evidence must not pull in the detection run (state, locks, stores)."""
    code = "import sys, custodes.detect.evidence; print('custodes.detect.run' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
