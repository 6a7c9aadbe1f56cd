"""`custodes demo` is the README's main job: it must run every capability end to end, name every
scenario, and stay safe to run twice on one workspace."""

from __future__ import annotations

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
    for section in ("Simulating", "Ingesting", "Verifying", "Detecting", "Scoping", "Offboarding",
                    "The guard", "The console"):
        assert f"== {section}" in out
    assert "seals: intact" in out
    for scenario in ("key_forgery", "departed_credential", "curious_insider"):
        assert re.search(rf"{scenario}\s+DETECTED (high|critical)", out), out
    assert "high/critical incidents with no scenario behind them: 0" in out
    assert "forged token  signature check alone: accept; custodes guard: REJECT (not_issued)" in out
    reports = list((ws / "respond" / "reports").glob("*.pdf"))
    assert len(reports) >= 3
    assert {p.name.split("-", 2)[-1] for p in reports} == {"pipc-ko.pdf", "gdpr33-en.pdf"}  # PIPC in Korean, GDPR in English
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in reports)


def test_demo_twice_on_one_workspace_adds_nothing(tmp_path):
    ws = tmp_path / "ws"
    assert run_demo(ws).returncode == 0
    again = run_demo(ws)
    assert again.returncode == 0, again.stderr[-2000:]
    assert re.search(r"access\s+0 rows loaded, 0 quarantined, \d+ file\(s\) already in the lake", again.stdout)
    assert "seals: intact" in again.stdout
