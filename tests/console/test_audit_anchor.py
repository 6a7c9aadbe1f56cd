"""The audit trail's head goes to the lake's anchor (seal.anchor), outside the workspace: a
workspace writer who cuts the trail and rewrites its head to match, or restores an older copy
of the whole console directory, passes the trail's own checks but not the anchor's."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from custodes.console.audit import AuditBroken, AuditTrail, _digest, head_path, restart, verify
from custodes.workspace import Workspace


@pytest.fixture
def anchored(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    anchor = tmp_path / "outside" / "anchor.jsonl"
    anchor.parent.mkdir()
    ws.config_path.write_text(yaml.safe_dump({"seal": {"anchor": str(anchor)}}))
    (ws.root / "console").mkdir(mode=0o700)
    trail = AuditTrail(ws.root / "console" / "audit.jsonl", ws)
    for i in range(5):
        trail.record(user="anna", role="analyst", action="view.incident", target=f"i-{i}", client="127.0.0.1")
    return ws, trail, anchor


def _cut_and_rehead(trail: AuditTrail, keep: int) -> None:
    """What a workspace writer does to hide the last entries: cut them and write a head that
    names the new last entry, so the trail's own tail check passes."""
    lines = trail.path.read_text().splitlines()[:keep]
    trail.path.write_text("\n".join(lines) + "\n")
    last = json.loads(lines[-1])
    head_path(trail.path).write_text(json.dumps({"seq": last["seq"], "hash": last["hash"]}))


def test_every_head_is_anchored_outside_the_workspace(anchored):
    ws, trail, anchor = anchored
    records = [json.loads(line) for line in anchor.read_text().splitlines()]
    assert [r["seq"] for r in records if r["kind"] == "audit"] == [1, 2, 3, 4, 5]
    entries = [json.loads(line) for line in trail.path.read_text().splitlines()]
    assert [r["head"] for r in records] == [e["hash"] for e in entries]
    assert verify(trail.path, ws).ok


def test_a_cut_and_reheaded_trail_passes_its_own_check_but_not_the_anchor(anchored):
    ws, trail, _ = anchored
    _cut_and_rehead(trail, keep=3)
    assert verify(trail.path).ok  # without the anchor, the forgery is consistent
    check = verify(trail.path, ws)
    assert not check.ok and "audit head 4" in check.problem and "rolled back" in check.problem
    with pytest.raises(AuditBroken, match="rolled back or cut"):
        trail.record(user=None, role=None, action="login.failed", target="mallory")
    assert len(trail.path.read_text().splitlines()) == 3  # nothing chained onto the cut trail


def test_a_rewritten_last_entry_with_its_hashes_recomputed_is_refused(anchored):
    ws, trail, _ = anchored
    entries = [json.loads(line) for line in trail.path.read_text().splitlines()]
    entries[-1]["target"] = "i-hidden"
    entries[-1]["hash"] = _digest(entries[-1])
    trail.path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    head_path(trail.path).write_text(json.dumps({"seq": 5, "hash": entries[-1]["hash"]}))
    assert verify(trail.path).ok
    assert not verify(trail.path, ws).ok
    with pytest.raises(AuditBroken, match="rewritten"):
        trail.record(user="anna", role="analyst", action="view.incident", target="i-9")


def test_an_older_copy_of_the_console_directory_is_found(anchored, tmp_path):
    ws, trail, _ = anchored
    saved = tmp_path / "saved"
    shutil.copytree(trail.path.parent, saved)
    trail.record(user="anna", role="analyst", action="export.accounts", target="i-1")
    shutil.rmtree(trail.path.parent)
    shutil.copytree(saved, trail.path.parent)  # the export never happened, as far as the workspace says
    assert verify(trail.path).ok
    assert not verify(trail.path, ws).ok


def test_the_anchor_can_be_named_when_the_config_no_longer_does(anchored):
    ws, trail, anchor = anchored
    _cut_and_rehead(trail, keep=2)
    ws.config_path.write_text("")  # the insider removes seal.anchor too
    assert verify(trail.path, ws).ok
    check = verify(trail.path, ws, anchors=(str(anchor),))
    assert not check.ok and "audit head 3" in check.problem


def test_a_restart_after_a_break_verifies_and_keeps_anchoring(anchored):
    ws, trail, anchor = anchored
    _cut_and_rehead(trail, keep=3)
    entry = restart(trail.path, by="root", workspace=ws)
    assert entry["seq"] == 1 and entry["action"] == "audit.restarted"
    assert "audit head 4" in entry["detail"]["problem"]
    trail.record(user="anna", role="analyst", action="view.incident", target="i-1")
    assert verify(trail.path, ws).ok
    seqs = [json.loads(line)["seq"] for line in anchor.read_text().splitlines()]
    assert seqs == [1, 2, 3, 4, 5, 1, 2]  # the restart shows in the anchor: the seq falls back to 1


def test_serve_verify_audit_takes_an_anchor(anchored):
    from click.testing import CliRunner

    from custodes.cli import cli

    ws, trail, anchor = anchored
    _cut_and_rehead(trail, keep=4)
    ws.config_path.write_text("")
    runner = CliRunner()
    ok = runner.invoke(cli, ["serve", "--workspace", str(ws.root), "--verify-audit"])
    assert ok.exit_code == 0, ok.output
    broken = runner.invoke(cli, ["serve", "--workspace", str(ws.root), "--verify-audit", "--anchor", str(anchor)])
    assert broken.exit_code == 1 and "BROKEN" in broken.output
