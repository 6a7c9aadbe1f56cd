"""The audit trail: 0600, hash-chained, and any edit, deletion or insertion found by verify."""

from __future__ import annotations

import hashlib
import json
import stat
import threading

import pytest

from custodes.console.audit import AuditBroken, AuditTrail, verify


def _trail(tmp_path, n=5):
    trail = AuditTrail(tmp_path / "audit.jsonl")
    for i in range(n):
        trail.record(user="anna", role="analyst", action="view.incident", target=f"i-{i}", client="127.0.0.1")
    return trail


def test_file_is_private_and_chain_verifies(tmp_path):
    trail = _trail(tmp_path)
    assert stat.S_IMODE(trail.path.stat().st_mode) == 0o600
    check = verify(trail.path)
    assert check.ok and check.entries == 5
    entries = [json.loads(line) for line in trail.path.read_text().splitlines()]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5]
    assert all(b["prev"] == a["hash"] for a, b in zip(entries, entries[1:]))


def test_altered_entry_is_found(tmp_path):
    trail = _trail(tmp_path)
    lines = trail.path.read_text().splitlines()
    lines[2] = lines[2].replace('"anna"', '"nobody"')
    trail.path.write_text("\n".join(lines) + "\n")
    check = verify(trail.path)
    assert not check.ok and check.line == 3 and "altered" in check.problem


def test_deleted_entry_is_found(tmp_path):
    trail = _trail(tmp_path)
    lines = trail.path.read_text().splitlines()
    del lines[1]
    trail.path.write_text("\n".join(lines) + "\n")
    check = verify(trail.path)
    assert not check.ok and check.line == 2


def test_rewritten_entry_with_a_fresh_hash_still_breaks_the_chain(tmp_path):
    from custodes.console.audit import _digest

    trail = _trail(tmp_path)
    entries = [json.loads(line) for line in trail.path.read_text().splitlines()]
    entries[1]["target"] = "i-hidden"
    entries[1]["hash"] = _digest(entries[1])  # the forger recomputes this entry's own hash
    trail.path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    check = verify(trail.path)
    assert not check.ok and check.line == 3 and "chain broken" in check.problem


def test_concurrent_writers_keep_one_chain(tmp_path):
    trail = AuditTrail(tmp_path / "audit.jsonl")
    other = AuditTrail(tmp_path / "audit.jsonl")  # a second handle, as a second process would have

    def write(t):
        for _ in range(40):
            t.record(user="u", role="viewer", action="view.findings")

    threads = [threading.Thread(target=write, args=(t,)) for t in (trail, other, trail, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check = verify(trail.path)
    assert check.ok and check.entries == 160


def test_tail_is_newest_first(tmp_path):
    trail = _trail(tmp_path)
    assert [e["target"] for e in trail.tail(2)] == ["i-4", "i-3"]


def test_entries_cut_off_the_end_are_found_through_the_head(tmp_path):
    trail = _trail(tmp_path)
    lines = trail.path.read_text().splitlines(keepends=True)
    assert (tmp_path / "audit.head").stat().st_mode & 0o777 == 0o600
    trail.path.write_text("".join(lines[:3]))  # a valid, shorter chain
    check = verify(trail.path)
    assert not check.ok and "truncated" in check.problem and check.line == 4
    trail.path.unlink()
    assert not verify(trail.path).ok


def test_a_head_one_behind_after_a_crash_is_accepted(tmp_path):
    trail = _trail(tmp_path, n=3)
    head = (tmp_path / "audit.head").read_text()
    trail.record(user="anna", role="analyst", action="logout")
    (tmp_path / "audit.head").write_text(head)  # as if the process died between the two writes
    assert verify(trail.path).ok


def _cut(trail, keep: int) -> str:
    lines = trail.path.read_text().splitlines(keepends=True)
    trail.path.write_text("".join(lines[:keep]))
    return trail.path.read_text()


def test_nothing_is_appended_to_a_trail_whose_tail_was_cut(tmp_path):
    """Cutting entries off the end used to go unnoticed once the next entry rewrote the head."""
    trail = _trail(tmp_path)
    head = (tmp_path / "audit.head").read_text()
    kept = _cut(trail, 3)
    with pytest.raises(AuditBroken, match="truncated: the head records 5 entries"):
        trail.record(user=None, role=None, action="login.failed", client="198.51.100.66")
    assert trail.path.read_text() == kept and (tmp_path / "audit.head").read_text() == head
    check = verify(trail.path)
    assert not check.ok and "truncated" in check.problem and check.line == 4


def test_deleting_the_head_and_truncating_is_broken_too(tmp_path):
    trail = _trail(tmp_path)
    _cut(trail, 3)
    (tmp_path / "audit.head").unlink()
    check = verify(trail.path)
    assert not check.ok and "head is missing" in check.problem
    with pytest.raises(AuditBroken, match="head is missing"):
        trail.record(user="anna", role="analyst", action="view.incidents")
    assert not (tmp_path / "audit.head").exists()


def test_entries_forged_after_the_head_are_found(tmp_path):
    """Anyone can compute the next hashes; the head says where the real trail ended."""
    trail = _trail(tmp_path, n=3)
    head = (tmp_path / "audit.head").read_text()
    for _ in range(2):
        trail.record(user="anna", role="analyst", action="view.incidents")
    (tmp_path / "audit.head").write_text(head)
    check = verify(trail.path)
    assert not check.ok and check.line == 5
    with pytest.raises(AuditBroken):
        trail.record(user="anna", role="analyst", action="view.incidents")


def test_a_restart_keeps_the_broken_trail_and_records_the_break(tmp_path):
    from custodes.console.audit import restart
    from custodes.errors import CustodesError

    trail = _trail(tmp_path)
    with pytest.raises(CustodesError, match="intact"):
        restart(trail.path, by="root")
    cut = _cut(trail, 3)
    entry = restart(trail.path, by="root")
    kept = tmp_path / entry["target"]
    assert kept.read_text() == cut and (tmp_path / (kept.stem + ".head")).exists()
    assert entry["seq"] == 1 and entry["action"] == "audit.restarted"
    assert entry["detail"]["sha256"] == hashlib.sha256(cut.encode()).hexdigest()
    assert "truncated" in entry["detail"]["problem"] and entry["detail"]["by"] == "root"
    trail.record(user="anna", role="analyst", action="view.incidents")
    assert verify(trail.path).ok and verify(trail.path).entries == 2


def test_the_console_shows_nothing_once_its_trail_was_cut(app, client, ws):
    """Not even an anonymous failed login may chain onto a cut trail and hide the cut."""
    from starlette.testclient import TestClient

    from custodes.console.users import console_dir

    from .helpers import login

    assert login(client, "anna").status_code == 303
    assert client.get("/incidents/i-forgery").status_code == 200
    path = console_dir(ws) / "audit.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-2]))  # the view of the accounts goes
    kept = path.read_text()
    r = client.get("/incidents/i-forgery")
    assert r.status_code == 503 and "audit trail is broken" in r.text and "c-1000" not in r.text
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as anonymous:
        assert login(anonymous, "nobody", password="wrong-password-123").status_code == 503
    assert path.read_text() == kept and not verify(path).ok
