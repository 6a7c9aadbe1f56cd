"""Verification keys from a JWKS file, each pinned to the one algorithm it declares.

Every key must name its ``kid`` and ``alg``; the ``kty`` (and curve) must fit the ``alg``, so an
RSA or EC public key can never serve as an HMAC secret (algorithm confusion, RFC 8725 §2.1).
Private members (``d``, ``p``, ``q``, ...) are refused: a gateway needs only public keys, and a
signing key lying on a gateway is how the breach this project studies began. ``oct`` keys
(HS256/384/512) are the exception by nature; they must be at least as long as their hash.
A key may carry ``retired_at`` (RFC 3339): from then on nothing it signed is accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from custodes.errors import CustodesError
from custodes.guard import b64, jws
from custodes.timefmt import parse_iso

#: alg -> (kty, hash or curve). The table is the whole of what the guard accepts.
ALGORITHMS: dict[str, tuple[str, str]] = {
    "HS256": ("oct", "sha256"), "HS384": ("oct", "sha384"), "HS512": ("oct", "sha512"),
    "RS256": ("RSA", "sha256"), "RS384": ("RSA", "sha384"), "RS512": ("RSA", "sha512"),
    "PS256": ("RSA", "sha256"), "PS384": ("RSA", "sha384"), "PS512": ("RSA", "sha512"),
    "ES256": ("EC", "P-256"), "ES384": ("EC", "P-384"), "ES512": ("EC", "P-521"),
    "EdDSA": ("OKP", "Ed25519|Ed448"), "Ed25519": ("OKP", "Ed25519"),
}

_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}
_EC: dict[str, tuple[Callable[[], ec.EllipticCurve], int, Callable[[], hashes.HashAlgorithm]]] = {  # curve name -> (cryptography curve, coordinate bytes, hash)
    "P-256": (ec.SECP256R1, 32, hashes.SHA256),
    "P-384": (ec.SECP384R1, 48, hashes.SHA384),
    "P-521": (ec.SECP521R1, 66, hashes.SHA512),
}
_EC_ORDER = {
    "P-256": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "P-384": int("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
                 "581A0DB248B0A77AECEC196ACCC52973", 16),
    "P-521": int("1" + "F" * 65 + "A51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409", 16),
}
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth")
MIN_RSA_BITS = 2048

Verify = Callable[[bytes, bytes], bool]


@dataclass(frozen=True)
class Key:
    kid: str
    alg: str
    kty: str
    verify: Verify = field(repr=False, compare=False)
    retired_at: float | None = None  # epoch seconds


class KeySet:
    """Keys by kid. Lookup is an exact dict match: a kid is never a path, a query or a URL."""

    def __init__(self, keys: list[Key]):
        self._by_kid: dict[str, Key] = {}
        for key in keys:
            if key.kid in self._by_kid:
                raise CustodesError(f"duplicate kid {key.kid!r} in the key set")
            self._by_kid[key.kid] = key

    def get(self, kid: str) -> Key | None:
        return self._by_kid.get(kid)

    def __len__(self) -> int:
        return len(self._by_kid)

    def __iter__(self) -> Iterator[Key]:
        return iter(self._by_kid.values())


# Verifiers, one per family; each returns False rather than raising. ----------------------------

def _hmac_verifier(secret: bytes, digest: str) -> Verify:
    size = hashlib.new(digest).digest_size

    def verify(message: bytes, signature: bytes) -> bool:
        return len(signature) == size and hmac.compare_digest(
            hmac.digest(secret, message, digest), signature)
    return verify


def _rsa_verifier(public: rsa.RSAPublicKey, alg: str, digest: str) -> Verify:
    algorithm = _HASHES[digest]()
    pad = (padding.PKCS1v15() if alg.startswith("RS")
           else padding.PSS(mgf=padding.MGF1(algorithm), salt_length=algorithm.digest_size))
    size = (public.key_size + 7) // 8
    check = public.verify

    def verify(message: bytes, signature: bytes) -> bool:
        if len(signature) != size:
            return False
        try:
            check(signature, message, pad, algorithm)
            return True
        except InvalidSignature:
            return False
    return verify


def _ec_verifier(public: ec.EllipticCurvePublicKey, crv: str) -> Verify:
    _, width, hash_cls = _EC[crv]
    order = _EC_ORDER[crv]
    ecdsa = ec.ECDSA(hash_cls())
    check = public.verify

    def verify(message: bytes, signature: bytes) -> bool:
        if len(signature) != 2 * width:  # JWS uses fixed-width r || s, never DER
            return False
        r = int.from_bytes(signature[:width], "big")
        s = int.from_bytes(signature[width:], "big")
        if not (0 < r < order and 0 < s < order):  # r = s = 0 ("psychic signatures") and friends
            return False
        try:
            check(encode_dss_signature(r, s), message, ecdsa)
            return True
        except InvalidSignature:
            return False
    return verify


def _eddsa_verifier(public: ed25519.Ed25519PublicKey | ed448.Ed448PublicKey) -> Verify:
    size = 64 if isinstance(public, ed25519.Ed25519PublicKey) else 114
    check = public.verify

    def verify(message: bytes, signature: bytes) -> bool:
        if len(signature) != size:
            return False
        try:
            check(signature, message)
            return True
        except InvalidSignature:
            return False
    return verify


# Loading ---------------------------------------------------------------------------------------

def _member(jwk: dict[str, Any], name: str, where: str) -> str:
    value = jwk.get(name)
    if not isinstance(value, str) or not value:
        raise CustodesError(f"{where}: member {name!r} is required and must be a non-empty string")
    return value


def _b64_int(jwk: dict[str, Any], name: str, where: str) -> int:
    try:
        raw = b64.decode(_member(jwk, name, where))
    except b64.Base64Error:
        raise CustodesError(f"{where}: member {name!r} is not base64url") from None
    return int.from_bytes(raw, "big")


def _parse_time(value: object, where: str) -> float | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise CustodesError(f"{where}: retired_at must be an RFC 3339 string")
    return parse_iso(value, f"{where}: retired_at").timestamp()


def key_from_jwk(jwk: dict[str, Any], where: str = "key") -> Key:
    """One JWK -> a pinned :class:`Key`, or a :class:`CustodesError` naming what is wrong."""
    if not isinstance(jwk, dict):
        raise CustodesError(f"{where}: a key must be a JSON object")
    kid = _member(jwk, "kid", where)
    where = f"{where} (kid {kid!r})"
    alg = _member(jwk, "alg", where)
    if alg not in ALGORITHMS:
        raise CustodesError(f"{where}: alg {alg!r} is not accepted; use one of {', '.join(ALGORITHMS)}")
    kty, param = ALGORITHMS[alg]
    if jwk.get("kty") != kty:
        raise CustodesError(f"{where}: alg {alg} needs kty {kty!r}, the key says {jwk.get('kty')!r}")
    if jwk.get("use", "sig") != "sig":
        raise CustodesError(f"{where}: use must be 'sig'")
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        raise CustodesError(f"{where}: key_ops must include 'verify'")
    if kty != "oct" and any(m in jwk for m in _PRIVATE_MEMBERS):
        raise CustodesError(f"{where}: holds private key material; give the guard public keys only")
    retired_at = _parse_time(jwk.get("retired_at"), where)
    return Key(kid, alg, kty, _verifier(jwk, alg, kty, param, where), retired_at)


def _verifier(jwk: dict[str, Any], alg: str, kty: str, param: str, where: str) -> Verify:
    if kty == "oct":
        try:
            secret = b64.decode(_member(jwk, "k", where))
        except b64.Base64Error:
            raise CustodesError(f"{where}: member 'k' is not base64url") from None
        if len(secret) < hashlib.new(param).digest_size:
            raise CustodesError(f"{where}: an {alg} secret must be at least "
                                f"{hashlib.new(param).digest_size} bytes (RFC 7518 §3.2)")
        return _hmac_verifier(secret, param)
    if kty == "RSA":
        public = rsa.RSAPublicNumbers(_b64_int(jwk, "e", where), _b64_int(jwk, "n", where))
        try:
            key = public.public_key()
        except ValueError as exc:
            raise CustodesError(f"{where}: invalid RSA key: {exc}") from None
        if key.key_size < MIN_RSA_BITS:
            raise CustodesError(f"{where}: RSA keys under {MIN_RSA_BITS} bits are refused")
        return _rsa_verifier(key, alg, param)
    if kty == "EC":
        crv = jwk.get("crv")
        if crv != param:
            raise CustodesError(f"{where}: alg {alg} needs crv {param!r}, the key says {crv!r}")
        curve = _EC[crv][0]()
        try:
            ec_key = ec.EllipticCurvePublicNumbers(_b64_int(jwk, "x", where), _b64_int(jwk, "y", where),
                                                   curve).public_key()
        except ValueError as exc:  # not on the curve
            raise CustodesError(f"{where}: invalid EC key: {exc}") from None
        return _ec_verifier(ec_key, crv)
    crv = jwk.get("crv")
    if crv not in param.split("|"):
        raise CustodesError(f"{where}: alg {alg} needs crv {param.replace('|', ' or ')}, got {crv!r}")
    try:
        raw = b64.decode(_member(jwk, "x", where))
        cls = ed25519.Ed25519PublicKey if crv == "Ed25519" else ed448.Ed448PublicKey
        return _eddsa_verifier(cls.from_public_bytes(raw))
    except (b64.Base64Error, ValueError):
        raise CustodesError(f"{where}: invalid {crv} public key") from None


def load_jwks(data: bytes | str | dict[str, Any], source: str = "JWKS") -> KeySet:
    """Parse a JWKS document (``{"keys": [...]}``) strictly."""
    if not isinstance(data, dict):
        try:
            data = json.loads(data, object_pairs_hook=jws.object_without_duplicates)
        except (ValueError, RecursionError) as exc:
            raise CustodesError(f"{source}: not valid JSON: {exc}") from None
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list) or not keys:
        raise CustodesError(f"{source}: expected an object with a non-empty 'keys' array")
    return KeySet([key_from_jwk(jwk, f"{source}: keys[{i}]") for i, jwk in enumerate(keys)])


def load_jwks_file(path: str | Path) -> KeySet:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CustodesError(f"{path}: cannot read the key set: {exc.strerror}") from None
    return load_jwks(data, str(path))
