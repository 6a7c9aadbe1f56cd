"""Tamper evidence: verify finds altered, deleted and inserted partitions, a broken chain, a
truncated history, and a head signature that does not match the operator's key."""

from __future__ import annotations

import json
import shutil

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from custodes.lake import ingest, manifest, verify

from .conftest import access_row, write_csv


@pytest.fixture
def sealed(workspace, files):
    for day in (14, 15, 16):
        rows = [access_row(i, time=f"2025-04-{day}T01:00:{i:02d}Z") for i in range(20)]
        ingest(workspace, "access", [write_csv(files / f"d{day}.csv", rows)])
    ingest(workspace, "access", [write_csv(files / "bad.csv", [access_row(1, src_ip="x")])])  # a quarantine file
    assert verify(workspace).ok
    return workspace


def _part(ws, day):
    return next((ws.dataset_dir("access") / f"date=2025-04-{day}").glob("part-*.parquet"))


def test_clean_lake_verifies(sealed):
    report = verify(sealed)
    assert report.ok and report.entries == 4 and report.files == 4 and report.bytes > 0


def test_altered_partition(sealed):
    path = _part(sealed, 15)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit
    path.write_bytes(bytes(data))
    report = verify(sealed)
    assert not report.ok and report.altered == [str(path.relative_to(sealed.root))]


def test_deleted_partition(sealed):
    path = _part(sealed, 14)
    shutil.rmtree(path.parent)  # a whole day of logs gone
    report = verify(sealed)
    assert not report.ok and report.deleted == [str(path.relative_to(sealed.root))]


def test_inserted_partition(sealed):
    forged = sealed.dataset_dir("access") / "date=2025-04-17" / "part-0000000003-0001.parquet"
    forged.parent.mkdir()
    shutil.copy(_part(sealed, 16), forged)
    report = verify(sealed)
    assert not report.ok and report.inserted == [str(forged.relative_to(sealed.root))]


def test_altered_quarantine_file(sealed):
    q = next(sealed.quarantine.rglob("q-*.parquet"))
    q.write_bytes(q.read_bytes()[:-10])
    assert verify(sealed).altered == [str(q.relative_to(sealed.root))]


def test_edited_manifest_entry_breaks_the_chain(sealed):
    path = manifest.entry_path(sealed, 2)
    entry = json.loads(path.read_text())
    entry["rows"] = 0  # hiding rows from status
    path.write_text(json.dumps(entry))
    report = verify(sealed)
    assert not report.ok and any("entry 2" in p and "edited" in p for p in report.chain)


def test_removed_entry_and_its_files(sealed):
    entry = json.loads(manifest.entry_path(sealed, 2).read_text())
    for f in entry["files"]:
        (sealed.root / f["path"]).unlink()
    manifest.entry_path(sealed, 2).unlink()
    report = verify(sealed)
    assert not report.ok and any("missing" in p for p in report.chain)


def test_truncated_history_is_caught_by_the_head(sealed):
    last = json.loads(manifest.entry_path(sealed, 4).read_text())
    (sealed.root / last["quarantine_file"]["path"]).unlink()
    manifest.entry_path(sealed, 4).unlink()  # the newest ingest and its files, cleanly removed
    report = verify(sealed)
    assert not report.ok and any("truncated" in p for p in report.chain)


def _keypair(tmp_path, name):
    key = ed25519.Ed25519PrivateKey.generate()
    priv = tmp_path / f"{name}.pem"
    pub = tmp_path / f"{name}.pub"
    priv.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    return priv, pub


def test_signed_head(workspace, files, tmp_path):
    priv, pub = _keypair(tmp_path, "seal")
    _, other = _keypair(tmp_path, "other")
    workspace.config_path.write_text(f"seal:\n  signing_key: {priv}\n")
    ingest(workspace, "access", [write_csv(files / "a.csv", [access_row(1)])])
    assert verify(workspace).signature == "valid"  # checked with the signing key's public half
    assert verify(workspace, verify_key=str(pub)).signature == "valid"
    wrong = verify(workspace, verify_key=str(other))
    assert wrong.signature == "invalid" and not wrong.ok
    # rewriting history and re-signing needs the private key: an unsigned rewrite fails
    head = json.loads(manifest.head_path(workspace).read_text())
    head["seal"] = "0" * 64
    manifest.head_path(workspace).write_text(json.dumps(head))
    report = verify(workspace, verify_key=str(pub))
    assert not report.ok and report.signature == "invalid"
