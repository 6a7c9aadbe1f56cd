"""Minting signed tokens and key pairs: what an authorization server does, for tests, benchmarks
and the demo. A real signer (``cryptography``), with no policy of its own: it signs whatever
header and claims it is given, which is what an attacker holding a key does too.
Private keys made here live in memory only; never write them into the repository.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from custodes.guard import b64

_Hash = Callable[[], hashes.HashAlgorithm]
_EC_CURVES: dict[str, tuple[Callable[[], ec.EllipticCurve], int, _Hash, str]] = {"ES256": (ec.SECP256R1, 32, hashes.SHA256, "P-256"),
    "ES384": (ec.SECP384R1, 48, hashes.SHA384, "P-384"),
    "ES512": (ec.SECP521R1, 66, hashes.SHA512, "P-521")}
_SHA: dict[str, _Hash] = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: Any  # a cryptography private key, or the HMAC secret bytes

    def public_jwk(self, **extra: Any) -> dict[str, Any]:
        """The JWK a guard loads: public members only (the secret itself for an oct key)."""
        jwk: dict[str, Any] = {"kid": self.kid, "alg": self.alg, "use": "sig"}
        p = self.private
        if isinstance(p, bytes):
            jwk.update(kty="oct", k=b64.encode(p))
        elif isinstance(p, rsa.RSAPrivateKey):
            numbers = p.public_key().public_numbers()
            jwk.update(kty="RSA", n=_int(numbers.n), e=_int(numbers.e))
        elif isinstance(p, ec.EllipticCurvePrivateKey):
            n = p.public_key().public_numbers()
            width, crv = _EC_CURVES[self.alg][1], _EC_CURVES[self.alg][3]
            jwk.update(kty="EC", crv=crv, x=b64.encode(n.x.to_bytes(width, "big")),
                       y=b64.encode(n.y.to_bytes(width, "big")))
        else:
            from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
            raw = p.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            jwk.update(kty="OKP", crv="Ed25519", x=b64.encode(raw))
        jwk.update(extra)
        return jwk

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        """A compact JWS over ``claims``; ``header`` adds or overrides members (alg, kid, ...)."""
        hdr = {"alg": self.alg, "typ": "JWT", "kid": self.kid, **header}
        hdr = {k: v for k, v in hdr.items() if v is not None}
        signing_input = (b64.encode(_json(hdr)) + "." + b64.encode(_json(claims))).encode()
        return signing_input.decode() + "." + b64.encode(sign_bytes(self.private, self.alg,
                                                                    signing_input))


def _int(value: int) -> str:
    return b64.encode(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _json(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def sign_bytes(private: Any, alg: str, message: bytes) -> bytes:
    """The raw JWS signature of ``message`` with ``private`` under ``alg``."""
    if alg.startswith("HS"):
        return hmac.digest(private, message, "sha" + alg[2:])
    if alg.startswith("RS"):
        return bytes(private.sign(message, padding.PKCS1v15(), _SHA[alg[2:]]()))
    if alg.startswith("PS"):
        h = _SHA[alg[2:]]()
        return bytes(private.sign(message, padding.PSS(padding.MGF1(h), h.digest_size), h))
    if alg.startswith("ES"):
        _, width, hash_cls, _ = _EC_CURVES[alg]
        r, s = decode_dss_signature(private.sign(message, ec.ECDSA(hash_cls())))
        return r.to_bytes(width, "big") + s.to_bytes(width, "big")
    return bytes(private.sign(message))  # EdDSA


def generate(alg: str, kid: str) -> SigningKey:
    """A fresh key pair (or secret) for ``alg``."""
    if alg.startswith("HS"):
        return SigningKey(kid, alg, os.urandom(hashlib.new("sha" + alg[2:]).digest_size))
    if alg[:2] in ("RS", "PS"):
        return SigningKey(kid, alg, rsa.generate_private_key(public_exponent=65537, key_size=2048))
    if alg.startswith("ES"):
        return SigningKey(kid, alg, ec.generate_private_key(_EC_CURVES[alg][0]()))
    if alg in ("EdDSA", "Ed25519"):
        return SigningKey(kid, alg, ed25519.Ed25519PrivateKey.generate())
    raise ValueError(f"cannot generate a key for {alg!r}")


def jwks(*keys: SigningKey, **extra_by_kid: dict[str, Any]) -> dict[str, Any]:
    """A JWKS document of the keys' public halves."""
    return {"keys": [k.public_jwk(**extra_by_kid.get(k.kid, {})) for k in keys]}
