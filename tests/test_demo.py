"""`custodes demo` is the README's main job: it must run every capability end to end, name every
scenario, say when each attack's first alert would have reached a person, and stay safe to run
twice on one workspace."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys


def run_demo(ws):
    return subprocess.run([sys.executable, "-m", "custodes", "demo", "--workspace", str(ws),
                           "--customers", "2000", "--days", "21", "--seed", "3"],
                          capture_output=True, text=True, timeout=600)


def test_demo_runs_every_capability_and_names_every_scenario(tmp_path):
    ws = tmp_path / "ws"
    r = run_demo(ws)
    assert r.returncode == 0, r.stderr[-2000:]
    out = r.stdout
    for section in ("Simulating", "Watching", "When each attack's first alert", "Verifying", "Detecting",
                    "Scoping", "Offboarding", "The guard", "The console"):
        assert f"== {section}" in out
    assert re.search(r"hour    up to \d{4}-\d\d-\d\d \d\d:00", out)  # attacks in hour slices
    for scenario in ("key_forgery", "departed_credential", "curious_insider"):
        assert re.search(rf"{scenario}\s+began .*, first alert .* after its first request", out), out
    alerts = [json.loads(line) for line in (ws / "demo-alerts.jsonl").read_text().splitlines()]
    assert {a["severity"] for a in alerts} >= {"critical"}
    assert stat.S_IMODE((ws / "demo-alerts.jsonl").stat().st_mode) == 0o600
    assert "seals: intact" in out
    for scenario in ("key_forgery", "departed_credential", "curious_insider"):
        assert re.search(rf"{scenario}\s+DETECTED (high|critical)", out), out
    assert "high/critical incidents with no scenario behind them: 0" in out
    assert "forged token  signature check alone: accept; custodes guard: REJECT (not_issued)" in out
    reports = list((ws / "respond" / "reports").glob("*.pdf"))
    assert len(reports) >= 3
    assert {p.name.split("-", 2)[-1] for p in reports} == {"pipc-ko.pdf", "gdpr33-en.pdf"}  # PIPC in Korean, GDPR in English
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in reports)


def lake_rows(ws) -> dict:
    r = subprocess.run([sys.executable, "-m", "custodes", "status", "--format", "json", "--workspace", str(ws)],
                       capture_output=True, text=True, timeout=120, check=True)
    return {name: d["rows"] for name, d in json.loads(r.stdout)["datasets"].items()}


def test_demo_twice_on_one_workspace_adds_nothing(tmp_path):
    ws = tmp_path / "ws"
    assert run_demo(ws).returncode == 0
    rows = lake_rows(ws)
    again = run_demo(ws)
    assert again.returncode == 0, again.stderr[-2000:]
    assert re.search(r"access\s+0 rows loaded, 0 quarantined", again.stdout)
    assert re.search(r"key_forgery\s+began .*, first alert .* after its first request", again.stdout)
    assert "seals: intact" in again.stdout
    assert lake_rows(ws) == rows
