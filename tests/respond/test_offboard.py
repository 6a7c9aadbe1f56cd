"""Offboarding plans in data time, and --apply recording and pushing revocations."""

from __future__ import annotations

import json
import stat

import pytest

from custodes.errors import CustodesError
from custodes.respond import offboard
from custodes.respond.audit import read_audit


class RecordingLedger:
    def __init__(self):
        self.calls = []

    def revoke(self, jti=None, sub=None, kid=None):
        self.calls.append({k: v for k, v in dict(jti=jti, sub=sub, kid=kid).items() if v is not None})


def test_departed_custodian_plan(world):
    p = offboard.plan(world, world.workspace, "e-ex")
    assert p.as_of.isoformat() == "2025-04-15T03:00:00+00:00"  # data time: the latest access event
    assert [c["credential_id"] for c in p.credentials] == ["ak-3"]
    # k-emp was retired before now: nothing to rotate; k-old is live and signs forged tokens
    assert [k["kid"] for k in p.keys] == ["k-old"]
    k = p.keys[0]
    assert (k["live_issued_tokens"], k["tokens_seen_7d"], k["unissued_tokens_seen"]) == (0, 6, 5)


def test_current_employee_plan_lists_live_sessions_and_skips_revoked(world):
    dev = offboard.plan(world, world.workspace, "e-dev")
    assert [c["credential_id"] for c in dev.credentials] == ["ak-1"] and dev.already_revoked == ["ak-2"]
    assert dev.credentials[0]["requests"] == 2 and dev.credentials[0]["requests_after_termination"] == 0
    assert [k["kid"] for k in dev.keys] == ["k-new"] and dev.keys[0]["live_issued_tokens"] == 5
    cs = offboard.plan(world, world.workspace, "e-cs")
    assert cs.sessions == ["s-ecs"] and not cs.credentials and not cs.keys


def test_unknown_employee(world):
    with pytest.raises(CustodesError, match="unknown employee 'e-ghost'"):
        offboard.plan(world, world.workspace, "e-ghost")


def test_apply_records_and_pushes(world):
    ws = world.workspace
    p = offboard.plan(world, ws, "e-ex")
    ledger = RecordingLedger()
    record = offboard.apply(ws, p, ledger=ledger, by="analyst-1")
    assert ledger.calls == [{"sub": "e-ex"}, {"jti": "ak-3"}]  # keys only with revoke_keys
    path = ws.respond / "offboard"
    files = list(path.glob("*.json"))
    assert len(files) == 1 and stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert json.loads(files[0].read_text())["by"] == "analyst-1" == record["by"]
    assert read_audit(ws)[-1]["action"] == "offboard_apply"
    keyed = RecordingLedger()
    offboard.apply(ws, p, ledger=keyed, revoke_keys=True)
    assert {"kid": "k-old"} in keyed.calls
    assert len(offboard.load_records(ws)) == 2


def test_apply_against_the_guard_ledger(world, tmp_path):
    ledger_mod = pytest.importorskip("custodes.guard.ledger")
    url = f"sqlite:///{tmp_path}/ledger.db"
    p = offboard.plan(world, world.workspace, "e-ex")
    led = ledger_mod.open_ledger(url)
    offboard.apply(world.workspace, p, ledger=led, revoke_keys=True)
    led.close()
    again = ledger_mod.open_ledger(url)
    assert again.is_revoked(sub="e-ex") and again.is_revoked(jti="ak-3") and again.is_revoked(kid="k-old")
    assert not again.is_revoked(sub="e-cs")
    again.close()
