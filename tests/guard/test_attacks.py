"""RFC 8725 (JWT Best Current Practices) attack classes and the issue's list: one test each.
Every forged token here would pass a gateway that only checks "some signature verifies"."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from custodes.guard import b64, jws, mint
from custodes.guard.ledger import open_ledger

from .conftest import LIFETIME, NOW, claims


def forge(header: dict, payload: dict, secret: bytes | None = None, alg: str = "HS256",
          signature: bytes | None = None) -> str:
    """A token with exactly this header and payload, signed with an HMAC ``secret`` (or carrying
    ``signature`` verbatim)."""
    signing_input = (b64.encode(json.dumps(header).encode()) + "."
                     + b64.encode(json.dumps(payload).encode()))
    if signature is None:
        signature = mint.sign_bytes(secret, alg, signing_input.encode()) if secret else b""
    return signing_input + "." + b64.encode(signature)


def refused(verdict, reason: str) -> None:
    assert verdict.ok is False
    assert verdict.reason == reason, verdict


# Algorithm confusion (RFC 8725 §2.1, §3.1) -------------------------------------------------------

def public_key_encodings(key) -> list[bytes]:
    """Every way an attacker might feed a public key to an HMAC library as the secret."""
    pub = key.private.public_key()
    return [pub.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
            pub.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo),
            json.dumps(key.public_jwk()).encode()]


def test_rsa_public_key_used_as_hmac_secret_is_refused(verifier, signing_keys):
    rsa = signing_keys["RS256"]
    for secret in public_key_encodings(rsa):
        token = forge({"alg": "HS256", "kid": rsa.kid, "typ": "JWT"}, claims(), secret)
        refused(verifier().verify(token, NOW), "alg_mismatch")


def test_ec_public_key_used_as_hmac_secret_is_refused(verifier, signing_keys):
    ec = signing_keys["ES256"]
    for secret in public_key_encodings(ec):
        token = forge({"alg": "HS256", "kid": ec.kid}, claims(), secret)
        refused(verifier().verify(token, NOW), "alg_mismatch")


def test_asymmetric_alg_on_an_hmac_key_is_refused(verifier, signing_keys, attacker_keys):
    token = attacker_keys["RS256"].sign(claims(), kid=signing_keys["HS256"].kid)
    refused(verifier().verify(token, NOW), "alg_mismatch")


def test_other_asymmetric_alg_on_a_key_is_refused(verifier, signing_keys):
    # PS256 over an RS256 key: same kty, still not the alg the key declares.
    token = mint.SigningKey("k-RS256", "PS256", signing_keys["RS256"].private).sign(claims())
    refused(verifier().verify(token, NOW), "alg_mismatch")


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_is_refused(verifier, signing_keys, alg):
    token = forge({"alg": alg, "kid": signing_keys["ES256"].kid}, claims())
    refused(verifier().verify(token, NOW), "alg_none")


def test_alg_none_with_a_signature_is_refused(verifier, signing_keys):
    token = forge({"alg": "none", "kid": "k-HS256"}, claims(), signing_keys["HS256"].private)
    refused(verifier().verify(token, NOW), "alg_none")


# Signature forgery -------------------------------------------------------------------------------

def test_ecdsa_r_and_s_zero_is_refused(verifier, signing_keys):
    """CVE-2022-21449 ("psychic signatures"): r = s = 0 verified anything in some libraries."""
    key = signing_keys["ES256"]
    token = forge({"alg": "ES256", "kid": key.kid}, claims(), signature=bytes(64))
    refused(verifier().verify(token, NOW), "bad_signature")


def test_ecdsa_r_and_s_equal_to_the_group_order_are_refused(verifier, signing_keys):
    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    token = forge({"alg": "ES256", "kid": "k-ES256"}, claims(),
                  signature=n.to_bytes(32, "big") * 2)
    refused(verifier().verify(token, NOW), "bad_signature")


def test_ecdsa_der_signature_is_refused(verifier, signing_keys):
    """JWS carries r || s; a DER signature (what OpenSSL emits) is not accepted in its place."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = signing_keys["ES256"]
    header, payload = {"alg": "ES256", "kid": key.kid}, claims()
    signing_input = forge(header, payload).rsplit(".", 1)[0]
    der = key.private.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    refused(verifier().verify(signing_input + "." + b64.encode(der), NOW), "bad_signature")


@pytest.mark.parametrize("alg", ["ES256", "RS256", "EdDSA", "HS256"])
def test_token_signed_by_an_attackers_key_under_a_known_kid_is_refused(verifier, attacker_keys, alg):
    refused(verifier().verify(attacker_keys[alg].sign(claims()), NOW), "bad_signature")


def test_stripped_signature_is_refused(verifier, signing_keys):
    token = signing_keys["ES256"].sign(claims())
    refused(verifier().verify(token.rsplit(".", 1)[0] + ".", NOW), "bad_signature")


def test_payload_swapped_under_a_valid_signature_is_refused(verifier, signing_keys):
    key = signing_keys["EdDSA"]
    header, _, signature = key.sign(claims()).split(".")
    other = b64.encode(json.dumps(claims(sub="cust-2")).encode())
    refused(verifier().verify(f"{header}.{other}.{signature}", NOW), "bad_signature")


# No key from the token (RFC 8725 §3.10, RFC 7515 §4.1.3-6) --------------------------------------

def test_embedded_jwk_signed_by_the_attackers_key_is_refused(verifier, attacker_keys):
    attacker = attacker_keys["ES256"]
    token = attacker.sign(claims(), jwk=attacker.public_jwk())
    refused(verifier().verify(token, NOW), "embedded_key")


@pytest.mark.parametrize("member,value", [
    ("jwk", None), ("jku", "https://attacker.example/jwks.json"),
    ("x5u", "https://attacker.example/cert.pem"), ("x5c", ["MIIB..."]),
    ("x5t", "dGh1bWI"), ("x5t#S256", "dGh1bWI")])
def test_key_reference_in_header_refuses_an_otherwise_valid_token(verifier, signing_keys, member,
                                                                    value):
    key = signing_keys["ES256"]
    v = verifier()
    assert v.verify(key.sign(claims()), NOW).ok  # the same token without the member passes
    token = key.sign(claims(), **{member: value if value is not None else key.public_jwk()})
    refused(v.verify(token, NOW), "embedded_key")


# kid handling (RFC 8725 §3.10) -------------------------------------------------------------------

@pytest.mark.parametrize("kid", [
    "../../../../dev/null", "/dev/null", "..\\..\\windows\\win.ini", "k-ES256/../k-HS256",
    "' OR '1'='1", "k-ES256' UNION SELECT 'secret", "k-ES256; rm -rf /", "$(id)", "`id`",
    "k-ES256\x00", "k-ES256 ", " k-ES256", "K-ES256", "http://attacker.example/key",
    "%2e%2e%2fk-ES256", "*", "", "k-ES256\nX-Injected: 1"])
def test_kid_traversal_and_injection_strings_name_no_key(verifier, signing_keys, kid):
    secret = b"\x00" * 32  # what /dev/null or an empty SQL result would give a naive loader
    token = forge({"alg": "HS256", "kid": kid}, claims(), secret)
    refused(verifier().verify(token, NOW), "unknown_kid")


def test_kid_not_a_string_is_refused(verifier):
    refused(verifier().verify(forge({"alg": "HS256", "kid": ["k-HS256"]}, claims(), b"x" * 32),
                              NOW), "bad_header")


def test_missing_kid_is_refused(verifier, signing_keys):
    refused(verifier().verify(signing_keys["ES256"].sign(claims(), kid=None), NOW), "missing_kid")


# Strict parsing ----------------------------------------------------------------------------------

def test_duplicate_header_members_are_refused(verifier, signing_keys):
    """{"alg":"ES256",...,"alg":"none"}: parsers that keep the first and the last disagree."""
    key = signing_keys["HS256"]
    raw_header = (b'{"alg":"HS256","kid":"k-HS256","alg":"none"}')
    signing_input = b64.encode(raw_header) + "." + b64.encode(json.dumps(claims()).encode())
    token = signing_input + "." + b64.encode(mint.sign_bytes(key.private, "HS256",
                                                             signing_input.encode()))
    refused(verifier().verify(token, NOW), "bad_header")


def test_duplicate_claims_are_refused(verifier, signing_keys):
    key = signing_keys["HS256"]
    raw_payload = (b'{"sub":"cust-1","jti":"tok-1","iss":"https://auth.example","aud":"api",'
                   b'"iat":%d,"exp":%d,"sub":"cust-2"}' % (int(NOW), int(NOW) + 60))
    signing_input = (b64.encode(json.dumps({"alg": "HS256", "kid": key.kid}).encode()) + "."
                     + b64.encode(raw_payload))
    token = signing_input + "." + b64.encode(mint.sign_bytes(key.private, "HS256",
                                                             signing_input.encode()))
    refused(verifier().verify(token, NOW), "bad_payload")


def test_padded_base64url_is_refused(verifier, signing_keys):
    token = signing_keys["ES256"].sign(claims())
    h, p, s = token.split(".")
    assert verifier().verify(token, NOW).ok
    for variant in (f"{h}=.{p}.{s}", f"{h}.{p}==.{s}", f"{h}.{p}.{s}=="):
        assert not verifier().verify(variant, NOW).ok


def test_non_canonical_trailing_bits_are_refused(verifier, signing_keys):
    """Two spellings, one byte string: only the canonical one is the token that was signed."""
    token = signing_keys["ES256"].sign(claims())
    h, p, s = token.split(".")
    assert len(s) % 4 == 2  # 64 bytes -> 86 characters: the last one carries 4 unused bits
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    sibling = alphabet[alphabet.index(s[-1]) | 1]
    assert sibling != s[-1]
    import base64
    assert base64.urlsafe_b64decode(s[:-1] + sibling + "==") == base64.urlsafe_b64decode(s + "==")
    refused(verifier().verify(f"{h}.{p}.{s[:-1]}{sibling}", NOW), "bad_base64")


@pytest.mark.parametrize("mangle", [
    lambda h, p, s: f"{h}.{p}.{s.replace('-', '+').replace('_', '/')}x+/",  # standard alphabet
    lambda h, p, s: f"{h}.{p[:10]} {p[10:]}.{s}",  # whitespace
    lambda h, p, s: f"{h}.{p}.{s}\n",
    lambda h, p, s: f"{h}.{p}.{s}.",  # four segments
    lambda h, p, s: f"{h}.{p}",  # two
    lambda h, p, s: f".{p}.{s}",  # no header
    lambda h, p, s: f"{h}.{p}.{s[:-1]}",  # length 1 mod 4 after truncation
])
def test_malformed_segments_are_refused(verifier, signing_keys, mangle):
    h, p, s = signing_keys["ES256"].sign(claims()).split(".")
    verdict = verifier().verify(mangle(h, p, s), NOW)
    assert not verdict.ok and verdict.reason in ("bad_base64", "malformed", "bad_signature")


def test_one_megabyte_token_is_refused_before_any_parsing(verifier, signing_keys, monkeypatch):
    def parsing_happened(*_a, **_k):
        raise AssertionError("an oversize token reached the parser")

    monkeypatch.setattr(jws, "split", parsing_happened)
    monkeypatch.setattr(b64, "decode", parsing_happened)
    big = signing_keys["HS256"].sign(claims(pad="x" * (1 << 20)))
    assert len(big) > 1 << 20
    refused(verifier().verify(big, NOW), "oversize")
    refused(verifier().verify("a" * (1 << 20), NOW), "oversize")
    refused(verifier().verify(b"a" * (1 << 20), NOW), "oversize")


def test_header_that_is_not_an_object_is_refused(verifier):
    for raw in (b"[]", b'"alg"', b"null", b"{", b"\xef\xbb\xbf{}", '{"alg":"HS256"}'.encode("utf-16")):
        token = b64.encode(raw) + "." + b64.encode(b"{}") + "." + b64.encode(b"x" * 32)
        assert verifier().verify(token, NOW).reason == "bad_header", raw


def test_unknown_crit_is_refused(verifier, signing_keys):
    token = signing_keys["ES256"].sign(claims(), crit=["exp"], exp=1)
    refused(verifier().verify(token, NOW), "unsupported_crit")
    token = signing_keys["ES256"].sign(claims(), crit=["urn:example:extension"])
    refused(verifier().verify(token, NOW), "unsupported_crit")


def test_unencoded_payload_and_compression_and_nesting_are_refused(verifier, signing_keys):
    key = signing_keys["ES256"]
    refused(verifier().verify(key.sign(claims(), b64=False), NOW), "unsupported_header")
    refused(verifier().verify(key.sign(claims(), zip="DEF"), NOW), "unsupported_header")
    refused(verifier().verify(key.sign(claims(), cty="JWT"), NOW), "unsupported_header")


def test_explicit_typing_when_configured(keyset, signing_keys):
    """RFC 8725 §3.11: a verifier told to accept at+jwt refuses other kinds of JWT."""
    from custodes.guard import Verifier

    v = Verifier(keyset, typ=frozenset({"at+jwt"}))
    key = signing_keys["ES256"]
    assert v.verify(key.sign(claims(), typ="at+jwt"), NOW).ok
    refused(v.verify(key.sign(claims(), typ="JWT"), NOW), "bad_typ")
    refused(v.verify(key.sign(claims(), typ=None), NOW), "bad_typ")


# Claims (RFC 8725 §3.8-3.10) ---------------------------------------------------------------------

def test_missing_exp_is_refused(verifier, signing_keys):
    refused(verifier().verify(signing_keys["ES256"].sign(claims(exp=None)), NOW), "missing_exp")


def test_expired_is_refused_after_the_leeway(verifier, signing_keys):
    key = signing_keys["ES256"]
    assert verifier().verify(key.sign(claims(exp=int(NOW) - 30)), NOW).ok  # within 60 s of skew
    refused(verifier().verify(key.sign(claims(exp=int(NOW) - 61)), NOW), "expired")


@pytest.mark.parametrize("exp", ["1760000600", True, None.__class__.__name__, [1], {"a": 1}, 1e400])
def test_exp_of_the_wrong_type_is_refused(verifier, signing_keys, exp):
    key = signing_keys["HS256"]
    verdict = verifier().verify(key.sign(claims(exp=exp)), NOW)
    assert not verdict.ok and verdict.reason == "bad_payload"


def test_nbf_in_the_future_beyond_the_leeway_is_refused(verifier, signing_keys):
    key = signing_keys["ES256"]
    assert verifier().verify(key.sign(claims(nbf=int(NOW) + 59)), NOW).ok
    refused(verifier().verify(key.sign(claims(nbf=int(NOW) + 61)), NOW), "not_yet_valid")


def test_iat_in_the_future_beyond_the_leeway_is_refused(verifier, signing_keys):
    key = signing_keys["ES256"]
    assert verifier().verify(key.sign(claims(iat=int(NOW) + 59)), NOW).ok
    refused(verifier().verify(key.sign(claims(iat=int(NOW) + 61)), NOW), "iat_in_future")


def test_leeway_is_capped_at_sixty_seconds(keyset):
    from custodes.guard import Verifier

    with pytest.raises(ValueError):
        Verifier(keyset, leeway=3600)


def test_lifetime_over_the_maximum_is_refused(verifier, signing_keys):
    """The breach's keys minted tokens valid for years; the guard bounds every token's life."""
    key = signing_keys["ES256"]
    refused(verifier().verify(key.sign(claims(exp=int(NOW) + 10 * 365 * 86400)), NOW),
            "lifetime_exceeded")
    refused(verifier(max_lifetime=3600).verify(key.sign(claims(exp=int(NOW) + 7200)), NOW),
            "lifetime_exceeded")
    # without iat, the lifetime runs from now
    refused(verifier().verify(key.sign(claims(iat=None, exp=int(NOW) + 2 * 86400)), NOW),
            "lifetime_exceeded")


def test_wrong_issuer_is_refused(verifier, signing_keys):
    key = signing_keys["ES256"]
    refused(verifier().verify(key.sign(claims(iss="https://evil.example")), NOW), "bad_issuer")
    refused(verifier().verify(key.sign(claims(iss=None)), NOW), "bad_issuer")


def test_wrong_audience_is_refused(verifier, signing_keys):
    key = signing_keys["ES256"]
    refused(verifier().verify(key.sign(claims(aud="other-api")), NOW), "bad_audience")
    refused(verifier().verify(key.sign(claims(aud=["x", "y"])), NOW), "bad_audience")
    refused(verifier().verify(key.sign(claims(aud=None)), NOW), "bad_audience")
    assert verifier().verify(key.sign(claims(aud=["x", "api"])), NOW).ok


def test_retired_key_signs_nothing_after_retirement(signing_keys):
    from custodes.guard import Verifier, load_jwks

    key = signing_keys["ES256"]
    keys = load_jwks(mint.jwks(key, **{key.kid: {"retired_at": "2025-10-09T08:53:20Z"}}))
    retired_at = 1760000000.0  # 2025-10-09T08:53:20Z
    token = key.sign(claims(iat=int(retired_at) - 100, exp=int(retired_at) + 600))
    assert Verifier(keys).verify(token, retired_at - 1).ok
    refused(Verifier(keys).verify(token, retired_at), "key_retired")


# The ledger: issued, as issued, not revoked ------------------------------------------------------

@pytest.fixture
def ledger():
    led = open_ledger("memory:")
    led.record("tok-1", "cust-1", "k-ES256", exp=NOW + LIFETIME, iat=NOW - 10)
    return led


def test_validly_signed_token_that_was_never_issued_is_refused(verifier, signing_keys, ledger):
    """The breach itself: a token signed with the real (stolen) key that nobody issued."""
    key = signing_keys["ES256"]
    v = verifier(ledger=ledger)
    assert v.verify(key.sign(claims()), NOW).ok
    verdict = v.verify(key.sign(claims(jti="forged-1", sub="cust-999")), NOW)
    refused(verdict, "not_issued")
    assert (verdict.kid, verdict.sub, verdict.jti) == ("k-ES256", "cust-999", "forged-1")


def test_sub_differing_from_issuance_is_refused(verifier, signing_keys, ledger):
    refused(verifier(ledger=ledger).verify(signing_keys["ES256"].sign(claims(sub="cust-2")), NOW),
            "sub_mismatch")


def test_kid_differing_from_issuance_is_refused(verifier, signing_keys, ledger):
    token = signing_keys["EdDSA"].sign(claims())  # tok-1 was issued under k-ES256
    refused(verifier(ledger=ledger).verify(token, NOW), "kid_mismatch")


def test_token_without_jti_or_sub_is_refused_when_a_ledger_is_configured(verifier, signing_keys,
                                                                         ledger):
    key = signing_keys["ES256"]
    refused(verifier(ledger=ledger).verify(key.sign(claims(jti=None)), NOW), "missing_jti")
    refused(verifier(ledger=ledger).verify(key.sign(claims(sub=None)), NOW), "missing_sub")


@pytest.mark.parametrize("by,reason", [("jti", "revoked_jti"), ("sub", "revoked_sub"),
                                       ("kid", "revoked_kid")])
def test_revoked_token_is_refused(verifier, signing_keys, ledger, by, reason):
    v = verifier(ledger=ledger)
    token = signing_keys["ES256"].sign(claims())
    assert v.verify(token, NOW).ok
    ledger.revoke(**{by: {"jti": "tok-1", "sub": "cust-1", "kid": "k-ES256"}[by]}, at=NOW)
    refused(v.verify(token, NOW), reason)


def test_ledger_down_fails_closed(verifier, signing_keys):
    """A ledger nobody answers on: refuse (and say why), do not wave tokens through."""
    from .conftest import free_port

    led = open_ledger(f"redis://127.0.0.1:{free_port()}/0")
    refused(verifier(ledger=led).verify(signing_keys["ES256"].sign(claims()), NOW),
            "ledger_unavailable")
    verdict = verifier(ledger=led, ledger_failure="open").verify(signing_keys["ES256"].sign(claims()),
                                                                  NOW)
    assert verdict.ok and verdict.reason == "ok_unchecked"


@pytest.mark.parametrize("sub", ["cust-1\r\nX-Custodes-Subject: admin", "cust-1\x00admin",
                                 "cust-1\nadmin", "cust-1\u2028admin"])
def test_control_characters_in_ids_are_refused(verifier, signing_keys, sub):
    """A subject that would split the X-Custodes-Subject header (response splitting) or a log line."""
    key = signing_keys["ES256"]
    refused(verifier().verify(key.sign(claims(sub=sub)), NOW), "bad_payload")
    refused(verifier().verify(key.sign(claims(jti=sub)), NOW), "bad_payload")
    assert verifier().verify(key.sign(claims(sub="Kim Min-jun 김민준")), NOW).ok
