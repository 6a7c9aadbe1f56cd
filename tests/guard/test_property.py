"""Property: no input, however malformed, makes the verifier raise or accept it."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custodes.guard import REASONS, Verifier, b64, load_jwks, mint

from .conftest import NOW

# Keys made once at import: hypothesis re-runs the test body many times.
_KEYS = {alg: mint.generate(alg, f"k-{alg}") for alg in ("ES256", "HS256", "EdDSA")}
_VERIFIER = Verifier(load_jwks(mint.jwks(*_KEYS.values())), issuer="https://auth.example")
_VALID = {alg: key.sign({"iss": "https://auth.example", "sub": "u", "jti": "j",
                         "iat": int(NOW), "exp": int(NOW) + 300}) for alg, key in _KEYS.items()}
_SETTINGS = settings(max_examples=300, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])


def check(token) -> None:
    verdict = _VERIFIER.verify(token, NOW)
    assert verdict.reason in REASONS
    assert not verdict.ok, token


def test_the_valid_tokens_are_valid():
    assert all(_VERIFIER.verify(t, NOW).ok for t in _VALID.values())


@_SETTINGS
@given(st.text(max_size=400))
def test_arbitrary_text(text):
    check(text)


@_SETTINGS
@given(st.binary(max_size=400))
def test_arbitrary_bytes(data):
    check(data)


_segment = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/. ",
                   max_size=120)


@_SETTINGS
@given(_segment, _segment, _segment)
def test_three_dotted_segments(h, p, s):
    check(f"{h}.{p}.{s}")


@_SETTINGS
@given(st.sampled_from(sorted(_VALID)), st.data())
def test_mutations_of_a_valid_token(alg, data):
    token = _VALID[alg]
    i = data.draw(st.integers(0, len(token) - 1))
    op = data.draw(st.sampled_from(["replace", "delete", "insert", "truncate"]))
    ch = data.draw(st.characters(codec="utf-8"))
    mutated = {"replace": token[:i] + ch + token[i + 1:], "delete": token[:i] + token[i + 1:],
               "insert": token[:i] + ch + token[i:], "truncate": token[:i]}[op]
    if mutated != token:
        check(mutated)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4), max_leaves=12)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["alg", "kid", "typ", "crit", "jwk", "cty", "b64", "x"]),
                       _json_values, max_size=5),
       st.dictionaries(st.sampled_from(["exp", "nbf", "iat", "iss", "aud", "sub", "jti", "sid"]),
                       _json_values, max_size=8))
def test_hmac_signed_arbitrary_headers_and_claims_never_raise(header, payload):
    """Signed with the real HMAC key, so parsing goes all the way into the claim checks."""
    signing_input = (b64.encode(json.dumps(header).encode()) + "."
                     + b64.encode(json.dumps(payload).encode()))
    token = signing_input + "." + b64.encode(
        mint.sign_bytes(_KEYS["HS256"].private, "HS256", signing_input.encode()))
    verdict = _VERIFIER.verify(token, NOW)
    assert verdict.reason in REASONS
    if verdict.ok:  # accepted only when it truly meets the policy
        assert header.get("alg") == "HS256" and header.get("kid") == "k-HS256"
        assert payload.get("iss") == "https://auth.example"
        assert isinstance(payload.get("exp"), (int, float)) and payload["exp"] + 60 > NOW
        assert not ({"jwk", "crit", "b64"} & set(header))


@_SETTINGS
@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=. \n\x00é",
               max_size=40))
def test_base64url_accepts_exactly_the_canonical_spellings(text):
    """decode(s) succeeds if and only if s is encode() of some bytes: one spelling per value."""
    try:
        data = b64.decode(text)
    except b64.Base64Error:
        return
    assert b64.encode(data) == text


@_SETTINGS
@given(st.binary(max_size=100))
def test_base64url_round_trips(data):
    assert b64.decode(b64.encode(data)) == data
