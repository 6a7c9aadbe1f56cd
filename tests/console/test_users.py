"""Users and passwords: scrypt hashes, policy, the 0600 user file, no enumeration by timing."""

from __future__ import annotations

import json
import stat

import pytest

from custodes.console import passwords
from custodes.console.users import UserStore
from custodes.errors import CustodesError, UsageError


def test_hash_is_salted_scrypt_and_verifies():
    a = passwords.hash_password("correct horse battery", log2_n=10)
    b = passwords.hash_password("correct horse battery", log2_n=10)
    assert a.startswith("scrypt$10$8$1$") and a != b
    assert passwords.verify_password("correct horse battery", a)
    assert not passwords.verify_password("correct horse battery!", a)


@pytest.mark.parametrize("stored", ["", "plain", "md5$x", "scrypt$10$8$1$!!$!!", "scrypt$99$8$1$AA==$AA=="])
def test_malformed_stored_hash_is_a_plain_no(stored):
    assert passwords.verify_password("whatever-password", stored) is False


def test_policy_refuses_short_and_trivial_passwords(tmp_path):
    store = UserStore(tmp_path / "users.json", log2_n=10)
    for weak in ("short", "aaaaaaaaaaaaaaa", "abababababab"):
        with pytest.raises(CustodesError):
            store.add("anna", "analyst", weak)
    assert not (tmp_path / "users.json").exists()


def test_store_is_private_holds_no_plaintext_and_checks_names_and_roles(tmp_path):
    store = UserStore(tmp_path / "users.json", log2_n=10)
    store.add("anna", "analyst", "analyst-pass-1234")
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert "analyst-pass-1234" not in store.path.read_text()
    assert store.authenticate("anna", "analyst-pass-1234").role == "analyst"
    assert store.authenticate("anna", "wrong-pass-1234") is None
    assert store.authenticate("bob", "analyst-pass-1234") is None
    with pytest.raises(UsageError):
        store.add("Anna Smith", "analyst", "analyst-pass-1234")
    with pytest.raises(UsageError):
        store.add("root", "superuser", "analyst-pass-1234")
    with pytest.raises(CustodesError):
        store.add("anna", "admin", "another-pass-1234")  # exists: no silent replace


def test_corrupt_user_file_is_a_clear_error(tmp_path):
    path = tmp_path / "users.json"
    path.write_text(json.dumps({"users": {"anna": {"role": "god", "hash": "x"}}}))
    with pytest.raises(CustodesError, match="not a valid console user file"):
        UserStore(path).names()


def test_generated_password_for_the_demo_is_strong_and_works(tmp_path):
    store = UserStore(tmp_path / "users.json", log2_n=10)
    first = store.add_generated("demo", "admin")
    second = store.add_generated("demo", "admin")
    assert first != second and len(first) >= 20
    assert store.authenticate("demo", second).role == "admin"
    assert store.authenticate("demo", first) is None
