"""Strict parsing pieces: base64url, JSON objects, and JWKS loading."""

from __future__ import annotations

import base64
import json
import os

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from custodes.errors import CustodesError
from custodes.guard import b64, jws, load_jwks, mint


def test_base64url_round_trips_and_matches_the_standard_library():
    for n in range(70):
        data = os.urandom(n)
        text = b64.encode(data)
        assert text == base64.urlsafe_b64encode(data).decode().rstrip("=")
        assert b64.decode(text) == data


@pytest.mark.parametrize("bad", ["a", "ab==", "a+b/", "QR", "QQ==", "Q Q", "QQ\n", "é", "A=AA",
                                 "AAA\x00"])
def test_base64url_refuses_what_lenient_decoders_accept(bad):
    with pytest.raises(b64.Base64Error):
        b64.decode(bad)


@pytest.mark.parametrize("raw,ok", [
    (b'{"a":1}', True), (b' {"a":1} ', True), (b'{"a":{"b":1}}', True),
    (b'{"a":1}x', False), (b'{"a":1}{"b":2}', False), (b'\xef\xbb\xbf{"a":1}', False),
    (b'{"a":1,"a":2}', False), (b'{"a":{"b":1,"b":2}}', False), (b'{"a":NaN}', False),
    (b'{"a":Infinity}', False), (b'[1]', False), (b'"s"', False), (b"", False),
    ('{"a":1}'.encode("utf-16"), False), (b'{"a":"\xff"}', False), (b"[" * 5000, False),
    (b'{"a":' * 5000 + b"1" + b"}" * 5000, False)])
def test_json_objects_are_parsed_strictly(raw, ok):
    if ok:
        assert isinstance(jws.json_object(raw, "bad_payload"), dict)
    else:
        with pytest.raises(jws.JWSError):
            jws.json_object(raw, "bad_payload")


def jwk(alg="ES256", **extra):
    return mint.generate(alg, "k").public_jwk(**extra)


@pytest.mark.parametrize("mutate,message", [
    (lambda j: j.pop("kid"), "'kid' is required"),
    (lambda j: j.pop("alg"), "'alg' is required"),
    (lambda j: j.update(alg="none"), "not accepted"),
    (lambda j: j.update(alg="HS256"), "needs kty 'oct'"),
    (lambda j: j.update(alg="ES384"), "needs crv 'P-384'"),
    (lambda j: j.update(use="enc"), "use must be 'sig'"),
    (lambda j: j.update(key_ops=["encrypt"]), "key_ops"),
    (lambda j: j.update(d="AAAA"), "private key material"),
    (lambda j: j.update(x=b64.encode(b"\x01" * 32)), "invalid EC key"),
    (lambda j: j.update(retired_at="yesterday"), "not an RFC 3339 time"),
    (lambda j: j.update(retired_at="2025-01-01T00:00:00"), "no time zone"),
    # forms Python's fromisoformat reads but RFC 3339 (and the lake's reader) do not: one text, one time
    (lambda j: j.update(retired_at="2025-W01-3T00:00:00Z"), "not an RFC 3339 time"),
    (lambda j: j.update(retired_at="20250101T000000Z"), "not an RFC 3339 time"),
    (lambda j: j.update(retired_at="2025-01-01T00:00:00+14:60"), "not an RFC 3339 time"),
])
def test_bad_keys_are_refused_with_a_clear_message(mutate, message):
    key = jwk()
    mutate(key)
    with pytest.raises(CustodesError, match=message):
        load_jwks({"keys": [key]})


def test_weak_keys_are_refused():
    with pytest.raises(CustodesError, match="at least 32 bytes"):
        load_jwks({"keys": [{"kty": "oct", "kid": "h", "alg": "HS256", "k": b64.encode(b"short")}]})
    small = mint.SigningKey("r", "RS256", rsa.generate_private_key(65537, 1024))
    with pytest.raises(CustodesError, match="under 2048 bits"):
        load_jwks(mint.jwks(small))


def test_duplicate_kids_and_members_are_refused():
    with pytest.raises(CustodesError, match="duplicate kid"):
        load_jwks({"keys": [jwk(), jwk()]})
    with pytest.raises(CustodesError, match="not valid JSON"):
        load_jwks('{"keys": [], "keys": []}')
    with pytest.raises(CustodesError, match="non-empty 'keys'"):
        load_jwks(json.dumps({"keys": []}))


def test_every_supported_alg_loads_and_verifies():
    from custodes.guard import Verifier

    keys = [mint.generate(alg, f"k-{alg}") for alg in
            ("HS256", "HS384", "HS512", "RS256", "PS256", "ES256", "ES384", "ES512", "EdDSA")]
    v = Verifier(load_jwks(mint.jwks(*keys)))
    import time
    now = int(time.time())
    for key in keys:
        verdict = v.verify(key.sign({"sub": "s", "iat": now, "exp": now + 60}))
        assert verdict.ok, (key.alg, verdict)
