"""The lake against an insider who can write the workspace but does not hold the seal's signing
key (issue 13): every attack here broke a promise of docs/lake.md before, and each test tries it
the way that person would, with the documented sealing rules and a shell on the box."""

from __future__ import annotations

import errno
import hashlib
import json
import shutil
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from custodes.cli import main
from custodes.engine import connect
from custodes.errors import CustodesError
from custodes.lake import ingest, manifest, seal, status, verify
from custodes.workspace import Workspace

from .conftest import access_row, write_csv


# The insider's tools ---------------------------------------------------------------------------

def keypair(tmp_path, name):
    key = ed25519.Ed25519PrivateKey.generate()
    priv, pub = tmp_path / f"{name}.pem", tmp_path / f"{name}.pub"
    priv.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    return priv, pub


def entry_file(ws, seq):
    return ws.lake / "_manifest" / f"{seq:010d}.json"


def load(ws, seq) -> dict:
    return json.loads(entry_file(ws, seq).read_text())


def documented_seal(entry: dict) -> str:
    """docs/lake.md: an entry's seal is the SHA-256 of its canonical JSON without the seal."""
    body = {k: v for k, v in entry.items() if k not in ("seal", "signature")}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def rechain(ws, start: int, sign_with=None) -> None:
    """Recompute every seal from entry ``start`` on, drop (or forge) the signatures, and write a
    head for the new last entry: a history rewritten with the documented rules."""
    seqs = sorted(int(p.stem) for p in (ws.lake / "_manifest").glob("*.json"))
    prev = load(ws, start - 1)["seal"] if start > 1 else "0" * 64
    for seq in (s for s in seqs if s >= start):
        entry = load(ws, seq)
        entry.pop("signature", None)
        entry["prev"] = prev
        entry["seal"] = prev = documented_seal(entry)
        if sign_with is not None:
            entry["signature"] = seal.Keys(sign_with).sign_entry(seq, prev)
        entry_file(ws, seq).write_text(json.dumps(entry))
    head = {"seq": seqs[-1], "seal": prev}
    if sign_with is not None:
        head.update(seal.Keys(sign_with).sign_head(seqs[-1], prev))
    (ws.seals / "head.json").write_text(json.dumps(head))


def drop_address(ws, rel: str, address: str) -> None:
    """Rewrite a sealed partition without one address's rows, and reseal it in its entry."""
    path = ws.root / rel
    table = pq.read_table(path)
    pq.write_table(table.filter(pc.not_equal(table.column("src_ip"), address)), path)
    for p in (ws.lake / "_manifest").glob("*.json"):
        entry = json.loads(p.read_text())
        for f in entry["files"]:
            if f["path"] == rel:
                f["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
                f["bytes"] = path.stat().st_size
                p.write_text(json.dumps(entry))


def snapshot(ws) -> dict[str, bytes]:
    return {str(p.relative_to(ws.root)): p.read_bytes() for p in sorted(ws.root.rglob("*"))
            if p.is_file() and p.name != ".lock"}


def day_file(ws, day) -> str:
    path = next((ws.dataset_dir("access") / f"date=2025-04-{day}").glob("part-*.parquet"))
    return str(path.relative_to(ws.root))


def run(capsys, *argv) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    out, err = capsys.readouterr()
    return exc.value.code, out, err


# A lake of three days ----------------------------------------------------------------------------

def three_days(ws, files, config: str = ""):
    if config:
        ws.config_path.write_text(config)
    for day in (14, 15, 16):
        rows = [access_row(i, time=f"2025-04-{day}T01:00:{i:02d}Z") for i in range(20)]
        ingest(ws, "access", [write_csv(files / f"d{day}.csv", rows)])
    return ws


def another(files, name="later.csv", first=100):
    return write_csv(files / name, [access_row(first + i, time=f"2025-04-17T01:00:{i:02d}Z") for i in range(5)])


@pytest.fixture
def keys(tmp_path):
    return keypair(tmp_path, "seal")


@pytest.fixture
def signed(workspace, files, keys):
    priv, pub = keys
    return three_days(workspace, files, f"seal:\n  signing_key: {priv}\n  verify_key: {pub}\n")


def refused(ws, files, match="run custodes verify"):
    before = snapshot(ws)
    with pytest.raises(CustodesError, match=match) as exc:
        ingest(ws, "access", [another(files)])
    assert str(exc.value).endswith("run custodes verify") and "\n" not in str(exc.value)
    assert snapshot(ws) == before  # nothing changed: no recovery delete, no head, no commit
    return str(exc.value)


# 1. Tamper evidence survives the next routine ingest --------------------------------------------

def test_rewritten_partition_rechained_and_unsigned_is_refused_by_ingest(signed, files, keys, capsys):
    drop_address(signed, day_file(signed, 15), "203.0.113.3")
    rechain(signed, 2)
    assert not verify(signed).ok
    refused(signed, files)
    code, out, err = run(capsys, "ingest", "access", str(another(files)), "--workspace", str(signed.root))
    assert code == 1 and err.strip().endswith("run custodes verify") and len(err.strip().splitlines()) == 1
    report = verify(signed, verify_key=str(keys[1]))
    assert not report.ok and report.signature == "invalid"  # still caught, still unsigned


def test_rewritten_and_unsigned_with_every_signature_stripped_is_refused(signed, files):
    """The head and every entry lose their signatures: the chain looks never signed, but the
    configured key says it must be."""
    drop_address(signed, day_file(signed, 14), "203.0.113.3")
    rechain(signed, 1)
    assert not any(load(signed, s).get("signature") for s in (1, 2, 3))
    assert "carries no signature" in refused(signed, files)


def test_deleted_last_entry_is_refused_and_its_files_are_kept(workspace, files):
    three_days(workspace, files)  # no key at all: the head alone must catch it
    last = load(workspace, 3)
    entry_file(workspace, 3).unlink()
    assert "truncated" in refused(workspace, files)
    assert (workspace.root / last["files"][0]["path"]).exists()  # the day is not "recovered" away
    assert manifest.committed_seqs(workspace) == [1, 2]  # seq 3 not reused


def test_forged_entry_after_the_head_is_not_adopted(signed, files):
    forged = dict(load(signed, 3), seq=4, rows=0, prev=load(signed, 3)["seal"])
    forged.pop("signature", None)
    forged["seal"] = documented_seal(forged)
    entry_file(signed, 4).write_text(json.dumps(forged))
    assert "entry 4" in refused(signed, files)
    assert json.loads((signed.seals / "head.json").read_text())["seq"] == 3


def test_forged_entry_signed_with_another_key_is_not_adopted(signed, files, tmp_path):
    attacker, _ = keypair(tmp_path, "attacker")
    forged = dict(load(signed, 3), seq=4, prev=load(signed, 3)["seal"])
    forged["seal"] = documented_seal(forged)
    forged["signature"] = seal.Keys(seal._load_key(str(attacker), private=True)).sign_entry(4, forged["seal"])
    entry_file(signed, 4).write_text(json.dumps(forged))
    assert "signature invalid" in refused(signed, files)


def test_deleted_middle_entry_is_refused_and_its_files_are_kept(workspace, files):
    three_days(workspace, files)
    middle = load(workspace, 2)
    entry_file(workspace, 2).unlink()
    assert "entry 2: missing" in refused(workspace, files)
    assert (workspace.root / middle["files"][0]["path"]).exists()


def test_a_planted_part_below_the_head_is_neither_removed_nor_read(workspace, files):
    three_days(workspace, files)
    planted = workspace.root / day_file(workspace, 15)
    planted = planted.with_name(planted.name.replace("-0000.", "-0009."))  # named like a part of seq 2
    shutil.copy(workspace.root / day_file(workspace, 15), planted)
    report = ingest(workspace, "access", [another(files)])
    assert report.removed_orphans == 0 and planted.exists()  # evidence, not litter
    assert str(planted.relative_to(workspace.root)) in verify(workspace).inserted
    with connect(workspace, "duckdb") as engine:
        t = engine.table("access")
        assert engine.to_arrow(t.count().name("n").as_table()).column(0)[0].as_py() == 65


def test_a_crashed_ingest_leftover_above_the_head_is_still_removed(workspace, files):
    three_days(workspace, files)
    leftover = workspace.root / day_file(workspace, 16)
    leftover = leftover.with_name("part-0000000004-0000.parquet")  # renamed in, never committed
    shutil.copy(workspace.root / day_file(workspace, 16), leftover)
    report = ingest(workspace, "access", [another(files)])
    assert report.removed_orphans == 1 and report.files[0].seq == 4 and verify(workspace).ok


# 2. Rollback ---------------------------------------------------------------------------------------

def test_restored_older_copy_fails_expect_head_and_the_anchor(workspace, files, tmp_path, capsys):
    anchor_file = tmp_path / "outside" / "anchor.jsonl"
    anchor_file.parent.mkdir()
    three_days(workspace, files, f"seal:\n  anchor: {anchor_file}\n")
    backup = tmp_path / "backup"
    shutil.copytree(workspace.root, backup)
    ingest(workspace, "access", [another(files)])
    code, out, _ = run(capsys, "status", "--workspace", str(workspace.root), "--format", "json")
    seals = json.loads(out)["seals"]
    assert seals["head_seq"] == 4
    shutil.rmtree(workspace.root)
    shutil.copytree(backup, workspace.root)  # the whole workspace, as it was a day earlier
    ws = workspace.root
    assert verify(workspace, anchors=[]).ok is False  # the configured anchor already sees it
    code, out, _ = run(capsys, "verify", "--workspace", str(ws), "--expect-head", f"{seals['head_seq']}:{seals['head']}")
    assert code == 1 and "EXPECTED HEAD" in out
    code, out, _ = run(capsys, "verify", "--workspace", str(ws), "--anchor", str(anchor_file))
    assert code == 1 and "ANCHOR" in out and "head 4" in out
    workspace.config_path.write_text("")  # the insider also drops seal.anchor from the config
    code, out, _ = run(capsys, "verify", "--workspace", str(ws), "--anchor", str(anchor_file))
    assert code == 1 and "head 4" in out  # the operator's own copy of the anchor still catches it


def test_ingest_after_a_rollback_is_refused_when_an_anchor_is_set(workspace, files, tmp_path):
    anchor_file = tmp_path / "anchor.jsonl"
    three_days(workspace, files, f"seal:\n  anchor: {anchor_file}\n")
    backup = tmp_path / "backup"
    shutil.copytree(workspace.root, backup)
    ingest(workspace, "access", [another(files)])
    shutil.rmtree(workspace.root)
    shutil.copytree(backup, workspace.root)
    assert "anchor's last lake head (seq 4" in refused(workspace, files, "anchor")


def test_expect_head_passes_on_the_same_chain(workspace, files, capsys):
    three_days(workspace, files)
    s = status(workspace)["seals"]
    ingest(workspace, "access", [another(files)])  # the chain grows: an older head stays held
    code, out, _ = run(capsys, "verify", "--workspace", str(workspace.root), "--expect-head", f"{s['head_seq']}:{s['head']}")
    assert code == 0, out
    code, _, err = run(capsys, "verify", "--workspace", str(workspace.root), "--expect-head", "3:abc")
    assert code == 2 and "SEQ:SEAL" in err


# 3. The verify key cannot be removed or replaced from inside the workspace ----------------------------

def test_verify_key_removed_from_the_config_fails(workspace, files, keys, tmp_path, capsys):
    priv, pub = keys
    three_days(workspace, files, f"seal:\n  signing_key: {priv}\n")
    workspace.config_path.write_text(f"seal:\n  verify_key: {pub}\n")  # the verifying host's config
    assert verify(workspace).signature == "valid"
    workspace.config_path.write_text("")  # the insider deletes it
    report = verify(workspace)
    assert not report.ok and report.signature == "not checked (no verify key)"
    code, out, _ = run(capsys, "verify", "--workspace", str(workspace.root))
    assert code == 1 and "no verify key" in out


def test_verify_key_pointed_at_the_attackers_key_fails_against_the_anchor(workspace, files, keys, tmp_path, capsys):
    priv, pub = keys
    anchor_file = tmp_path / "anchor.jsonl"
    three_days(workspace, files, f"seal:\n  signing_key: {priv}\n  anchor: {anchor_file}\n")
    attacker_priv, attacker_pub = keypair(tmp_path, "attacker")
    drop_address(workspace, day_file(workspace, 15), "203.0.113.3")
    rechain(workspace, 1, sign_with=seal._load_key(str(attacker_priv), private=True))  # every entry
    workspace.config_path.write_text(f"seal:\n  verify_key: {attacker_pub}\n")  # anchor dropped too
    assert verify(workspace).signature == "valid"  # without the anchor, the attacker's key vouches
    report = verify(workspace, anchors=[str(anchor_file)])
    assert not report.ok and any("not the key the anchor recorded" in p for p in report.signing)
    code, out, _ = run(capsys, "verify", "--workspace", str(workspace.root), "--anchor", str(anchor_file))
    assert code == 1 and "anchor recorded" in out


def test_newer_entry_unsigned_in_a_signed_chain_fails(signed, files, keys):
    priv, pub = keys
    signed.config_path.write_text("")  # signing switched off: an ingest would add unsigned entries
    assert "signed" in refused(signed, files, "signed")
    entry = load(signed, 3)
    entry.pop("signature")  # stripped from the newest entry
    entry_file(signed, 3).write_text(json.dumps(entry))
    report = verify(signed, verify_key=str(pub))
    assert not report.ok and "entry 3: unsigned after signed entries" in report.signing


def test_signing_an_unsigned_lake_takes_a_verify_first(workspace, files, keys, capsys):
    priv, pub = keys
    three_days(workspace, files)
    workspace.config_path.write_text(f"seal:\n  signing_key: {priv}\n")
    assert "verify --sign" in refused(workspace, files, "no signature")
    code, out, _ = run(capsys, "verify", "--sign", "--workspace", str(workspace.root))
    assert code == 0 and "signed" in out
    ingest(workspace, "access", [another(files)])
    report = verify(workspace, verify_key=str(pub))
    assert report.ok and report.signature == "valid"


def test_sign_refuses_a_lake_that_does_not_verify(workspace, files, keys, capsys):
    priv, _ = keys
    three_days(workspace, files)
    (workspace.root / day_file(workspace, 14)).write_bytes(b"PAR1 rewritten")
    workspace.config_path.write_text(f"seal:\n  signing_key: {priv}\n")
    code, out, err = run(capsys, "verify", "--sign", "--workspace", str(workspace.root))
    assert code == 1 and "nothing was signed" in err
    assert not any(load(workspace, s).get("signature") for s in (1, 2, 3))


def test_moving_to_a_new_key(signed, files, keys, tmp_path, capsys):
    old_priv, old_pub = keys
    new_priv, new_pub = keypair(tmp_path, "new")
    signed.config_path.write_text(f"seal:\n  signing_key: {new_priv}\n")
    refused(signed, files, "signature invalid")
    code, out, _ = run(capsys, "verify", "--sign", "--public-key", str(old_pub), "--workspace", str(signed.root))
    assert code == 0, out
    ingest(signed, "access", [another(files)])
    assert verify(signed, verify_key=str(new_pub)).ok
    assert not verify(signed, verify_key=str(old_pub)).ok


# 6. Only sealed files are read, and anything unsealed is flagged --------------------------------------

def test_a_directory_named_parquet_breaks_neither_queries_nor_verify(workspace, files):
    three_days(workspace, files)
    trap = workspace.dataset_dir("access") / "date=2025-04-14" / "x.parquet"
    trap.mkdir()
    (workspace.quarantine / "access").mkdir(parents=True, exist_ok=True)
    (workspace.quarantine / "access" / "y.parquet").mkdir()
    with connect(workspace, "duckdb") as engine:
        t = engine.table("access")
        assert engine.to_arrow(t.count().name("n").as_table()).column(0)[0].as_py() == 60
    report = verify(workspace)
    assert not report.ok
    assert report.inserted == ["lake/access/date=2025-04-14/x.parquet/", "quarantine/access/y.parquet/"]


def test_any_unsealed_entry_in_the_trees_is_flagged(workspace, files):
    three_days(workspace, files)
    (workspace.dataset_dir("access") / "notes.txt").write_text("x")
    (workspace.dataset_dir("access") / "junk").mkdir()
    (workspace.dataset_dir("access") / "date=2025-04-14" / ".hidden.parquet").write_text("x")
    (workspace.lake / "_manifest" / "README").write_text("x")
    link = workspace.dataset_dir("access") / "date=2025-04-15" / "part-0000000009-0000.parquet"
    link.symlink_to(workspace.root / day_file(workspace, 16))
    assert verify(workspace).inserted == sorted([
        "lake/_manifest/README", "lake/access/date=2025-04-14/.hidden.parquet",
        "lake/access/date=2025-04-15/part-0000000009-0000.parquet", "lake/access/junk/", "lake/access/notes.txt"])


# 8. Faults end in one clear line and a consistent lake ------------------------------------------------

def _full_disk_on(monkeypatch, name_test):
    """The disk fills up just as a file is renamed into place (the real write path runs)."""
    import os

    real = os.replace

    def failing(src, dst, *args, **kwargs):
        if name_test(Path(dst)):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", failing)


def test_a_commit_that_fails_removes_its_own_parts(workspace, files, monkeypatch):
    three_days(workspace, files)
    before = snapshot(workspace)
    _full_disk_on(monkeypatch, lambda p: p.parent.name == "_manifest")
    with pytest.raises(CustodesError, match="commit of seq 4 failed .No space left on device.; its stored files "
                                            "were removed") as exc:
        ingest(workspace, "access", [another(files)])
    assert "\n" not in str(exc.value)
    assert snapshot(workspace) == before  # no part, no quarantine file, no temp file
    monkeypatch.undo()
    assert verify(workspace).ok  # nothing reads as tampering
    assert ingest(workspace, "access", [another(files)]).files[0].seq == 4


def test_a_head_write_that_fails_after_the_commit_warns_and_cleans_up(workspace, files, keys, monkeypatch, capsys):
    priv, pub = keys
    three_days(workspace, files, f"seal:\n  signing_key: {priv}\n")
    _full_disk_on(monkeypatch, lambda p: p.name == "head.json")
    report = ingest(workspace, "access", [another(files)])
    assert report.rows == 5 and report.files[0].seq == 4  # committed, and reported so
    assert len(report.warnings) == 1 and "seq 4 is committed, but the seal head could not be written" in report.warnings[0]
    assert not [p for p in workspace.seals.iterdir() if p.name.startswith(".")]
    assert json.loads((workspace.seals / "head.json").read_text())["seq"] == 3
    monkeypatch.undo()
    ingest(workspace, "access", [another(files, "more.csv", first=200)])  # adopts the signed entry 4, then commits 5
    report = verify(workspace, verify_key=str(pub))
    assert report.ok and report.head["seq"] == 5


def test_one_missing_entry_is_reported_once(workspace, files):
    three_days(workspace, files)
    ingest(workspace, "access", [another(files)])
    entry_file(workspace, 2).unlink()
    chain = verify(workspace).chain
    assert chain == ["entry 2: missing (next present is 3)"]


def test_a_workspace_without_the_anchor_module_config_is_unchanged(workspace, files):
    """No key, no anchor: the lake works as before, unsigned, and says so."""
    three_days(workspace, files)
    report = verify(workspace)
    assert report.ok and report.signature == "unsigned" and report.anchored == 0
    assert Workspace(workspace.root).setting("seal") is None


def test_every_head_is_anchored_with_the_key_and_a_failed_anchor_never_loses_the_commit(
        workspace, files, keys, tmp_path, capsys):
    priv, pub = keys
    anchor_file = tmp_path / "off-box" / "anchor.jsonl"  # its directory is not mounted yet
    three_days(workspace, files, f"seal:\n  signing_key: {priv}\n  anchor: {anchor_file}\n")
    code, out, err = run(capsys, "ingest", "access", str(another(files)), "--workspace", str(workspace.root))
    assert code == 0 and "4 files ingested" not in out and "warning: lake head 4 not anchored" in err
    assert status(workspace)["seals"]["anchor_pending"] == 4  # the three days' heads and this one
    anchor_file.parent.mkdir()
    ingest(workspace, "access", [another(files, "more.csv", first=200)])  # flushes, then anchors head 5
    records = [json.loads(line) for line in anchor_file.read_text().splitlines()]
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5] and status(workspace)["seals"]["anchor_pending"] == 0
    der = serialization.load_pem_public_key(pub.read_bytes()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert {r["key"] for r in records} == {hashlib.sha256(der).hexdigest()}  # openssl ... -outform DER | sha256sum
    report = verify(workspace, anchors=[str(anchor_file)])
    assert report.ok and report.anchored == 10  # the configured anchor and the one given


def test_a_verifying_host_need_not_read_the_signing_key(workspace, files, keys, tmp_path):
    priv, pub = keys
    three_days(workspace, files, f"seal:\n  signing_key: {priv}\n")
    workspace.config_path.write_text(f"seal:\n  signing_key: {tmp_path / 'elsewhere.pem'}\n  verify_key: {pub}\n")
    assert verify(workspace).signature == "valid"  # the signing key path names a file not on this host
