"""Tamper evidence: every stored file's SHA-256 is written into its ingest's manifest entry,
and the entries form a hash chain (each entry's ``seal`` covers its content and the previous
entry's seal). The chain's head is kept in ``seals/head.json``. When the operator configures
``seal.signing_key`` (an Ed25519 private key, PEM), each entry is signed as it is committed and
the head each time it moves; ``custodes verify`` checks both against ``seal.verify_key`` (the
public key, PEM), which an operator can keep off the box. Anyone can recompute every seal;
only the key holder can sign a rewritten history.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

from custodes.errors import CustodesError
from custodes.workspace import Workspace

GENESIS = "0" * 64
HEAD_CONTEXT = b"custodes-seal-head-v1\n"
#: An entry's signature says "this entry was committed", a head's "the chain ended here": two
#: contexts, so that an entry's signature can never stand in for a head (a truncated history).
ENTRY_CONTEXT = b"custodes-seal-entry-v1\n"
#: Written by the signer, outside the sealed content (a signature covers the seal).
UNSEALED = ("seal", "signature")
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
    body = {k: v for k, v in entry.items() if k not in UNSEALED}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def entry_seal(entry: dict) -> str:
    return hashlib.sha256(canonical(entry)).hexdigest()


def same_digest(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def head_message(seq: int, seal: str) -> bytes:
    return HEAD_CONTEXT + f"{seq}:{seal}".encode()


def entry_message(seq: int, seal: str) -> bytes:
    return ENTRY_CONTEXT + f"{seq}:{seal}".encode()


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


def fingerprint(public_key) -> str:
    """SHA-256 of the key's DER SubjectPublicKeyInfo, hex: what
    ``openssl pkey -pubin -in seal.pub -outform DER | sha256sum`` prints."""
    from cryptography.hazmat.primitives import serialization

    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


class Keys:
    """The seal keys of one run: ``signer`` (Ed25519 private key, or None) signs; ``verifier``
    (public key, or None) checks. Loaded once, so a run reads each key file once."""

    def __init__(self, signer=None, verifier=None, verifier_source: str | None = None):
        self.signer = signer
        self.verifier = verifier
        self.verifier_source = verifier_source  # which setting or option it came from, for messages

    @classmethod
    def of(cls, ws: Workspace, public_key: str | None = None, signing: bool = True) -> Keys:
        """``public_key`` (an option) if given, else ``seal.verify_key``, else the public half of
        ``seal.signing_key``, verifies; ``seal.signing_key`` signs. With ``signing=False`` (a
        verify that signs nothing) the private key is read only when no public key is named:
        a verifying host need not be able to read it."""
        named = [(source, path) for source, path in (("--public-key", public_key),
                                                     ("seal.verify_key", ws.setting("seal.verify_key"))) if path]
        private = ws.setting("seal.signing_key") if signing or not named else None
        signer = _load_key(str(private), private=True) if private else None
        if named:
            source, path = named[0]
            return cls(signer, _load_key(str(path), private=False), source)
        return cls(signer, signer.public_key() if signer else None, "seal.signing_key" if signer else None)

    @property
    def fingerprint(self) -> str | None:
        return fingerprint(self.verifier) if self.verifier is not None else None

    @property
    def signer_fingerprint(self) -> str | None:
        return fingerprint(self.signer.public_key()) if self.signer is not None else None

    def pair_problem(self) -> str | None:
        """Signing with one key while verifying with another makes every new head fail verify."""
        if self.signer is not None and self.verifier is not None and self.fingerprint != self.signer_fingerprint:
            return f"seal.signing_key does not match the verify key of {self.verifier_source}"
        return None

    def sign_head(self, seq: int, seal: str) -> dict:
        from cryptography.hazmat.primitives import serialization

        public = self.signer.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"signature": _b64(self.signer.sign(head_message(seq, seal))),
                "public_key": _b64(public)}

    def sign_entry(self, seq: int, seal: str) -> str:
        return _b64(self.signer.sign(entry_message(seq, seal)))

    def head_valid(self, head: dict) -> bool:
        return self._valid(head.get("signature"), head_message, head.get("seq"), head.get("seal"))

    def entry_valid(self, entry: dict) -> bool:
        return self._valid(entry.get("signature"), entry_message, entry.get("seq"), entry.get("seal"))

    def _valid(self, signature, message, seq, seal) -> bool:
        from cryptography.exceptions import InvalidSignature

        if self.verifier is None or not signature:
            return False
        try:
            self.verifier.verify(base64.b64decode(signature, validate=True), message(int(seq), str(seal)))
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
