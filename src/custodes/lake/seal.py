"""Tamper evidence: every stored file's SHA-256 is written into its ingest's manifest entry,
and the entries form a hash chain (each entry's ``seal`` covers its content and the previous
entry's seal). The chain's head is kept in ``seals/head.json`` and, when the operator
configures ``seal.signing_key`` (an Ed25519 private key, PEM), signed with it; ``custodes
verify`` checks the signature against ``seal.verify_key`` (the public key, PEM), which an
operator can keep off the box. Anyone can recompute every seal; only the key holder can
re-sign a rewritten history.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

from custodes.errors import CustodesError

GENESIS = "0" * 64
HEAD_CONTEXT = b"custodes-seal-head-v1\n"
CHUNK = 4 << 20


def file_sha256(path: Path) -> tuple[str, int]:
    """(hex digest, size) of a file, read in large chunks (hashlib releases the GIL on them)."""
    h = hashlib.sha256()
    size = 0
    chunk = memoryview(bytearray(CHUNK))  # one buffer, read into: no new bytes object a chunk
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(chunk):
            h.update(chunk[:n])
            size += n
    return h.hexdigest(), size


def canonical(entry: dict) -> bytes:
    body = {k: v for k, v in entry.items() if k != "seal"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def entry_seal(entry: dict) -> str:
    return hashlib.sha256(canonical(entry)).hexdigest()


def same_digest(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def head_message(seq: int, seal: str) -> bytes:
    return HEAD_CONTEXT + f"{seq}:{seal}".encode()


def _load_key(path: str, private: bool):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    try:
        data = Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise CustodesError(f"{path}: cannot read the seal key ({exc.strerror})") from None
    try:
        key = (serialization.load_pem_private_key(data, password=None) if private
               else serialization.load_pem_public_key(data))
    except (ValueError, TypeError) as exc:
        raise CustodesError(f"{path}: not a PEM {'private' if private else 'public'} key ({exc})") from None
    wanted = ed25519.Ed25519PrivateKey if private else ed25519.Ed25519PublicKey
    if not isinstance(key, wanted):
        raise CustodesError(f"{path}: the seal key must be Ed25519")
    return key


def sign_head(signing_key_path: str, seq: int, seal: str) -> dict:
    from cryptography.hazmat.primitives import serialization

    key = _load_key(signing_key_path, private=True)
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {
        "signature": base64.b64encode(key.sign(head_message(seq, seal))).decode(),
        "public_key": base64.b64encode(public).decode(),
    }


def check_head_signature(verify_key_path: str, head: dict) -> bool:
    from cryptography.exceptions import InvalidSignature

    key = _load_key(verify_key_path, private=False)
    try:
        key.verify(base64.b64decode(head.get("signature") or ""), head_message(int(head["seq"]), head["seal"]))
    except (InvalidSignature, ValueError, KeyError, TypeError):
        return False
    return True
