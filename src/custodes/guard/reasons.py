"""Why a token was refused: one short, stable code per check, as a table.

The codes are what ``custodes guard verify`` prints in ``reason`` and what the guard logs with
each access event (``guard_reason``); scripts match on them, so they never change meaning.
"""

from __future__ import annotations

OK = "ok"

#: code -> what it means. The order is roughly the order in which the checks run.
REASONS: dict[str, str] = {
    OK: "accepted",
    "ok_unchecked": "accepted on signature and claims alone: the ledger was down and the guard was told to fail open",
    "missing_token": "no bearer token was presented",
    "oversize": "the token is longer than the configured limit; refused before any parsing",
    "malformed": "not a compact JWS: three base64url segments separated by dots",
    "bad_base64": "a segment is not canonical unpadded base64url",
    "bad_header": "the header is not a JSON object, or has duplicate or mistyped members",
    "alg_none": "the header names alg 'none' (an unsigned token)",
    "embedded_key": "the header carries a key or a key reference (jwk, jku, x5u, x5c, x5t)",
    "unsupported_crit": "the header lists critical extensions the guard does not implement",
    "unsupported_header": "the header asks for a feature the guard refuses (b64, zip, nested cty)",
    "bad_typ": "the header's typ is not one the guard was told to accept",
    "missing_kid": "the header has no kid",
    "unknown_kid": "the kid names no key in the key set",
    "alg_mismatch": "the header's alg is not the alg the key declares (algorithm confusion)",
    "key_retired": "the key was retired; nothing it signs is accepted any more",
    "bad_signature": "the signature does not verify with the named key",
    "bad_payload": "the payload is not a JSON object, or has duplicate or mistyped claims",
    "missing_exp": "the token has no exp",
    "expired": "exp is in the past (beyond the leeway)",
    "not_yet_valid": "nbf is in the future (beyond the leeway)",
    "iat_in_future": "iat is in the future (beyond the leeway)",
    "lifetime_exceeded": "exp lies further from iat (or now) than the maximum lifetime",
    "bad_issuer": "iss is not the configured issuer",
    "bad_audience": "aud does not contain the configured audience",
    "missing_jti": "a ledger is configured and the token has no jti",
    "missing_sub": "a ledger is configured and the token has no sub",
    "missing_iat": "a ledger is configured and the token has no iat",
    "not_issued": "the ledger has no record of this jti: the authorization server never minted it",
    "sub_mismatch": "the token's sub differs from the sub the jti was issued to",
    "kid_mismatch": "the token's kid differs from the key the jti was issued under",
    "iat_mismatch": "the token's iat is not the issued one (whole seconds): re-signed with a new lifetime",
    "exp_mismatch": "the token's exp is not the issued one (whole seconds): re-signed with a new lifetime",
    "revoked_jti": "the token was revoked",
    "revoked_sub": "every token of this subject issued before a revocation was revoked",
    "revoked_kid": "every token signed by this key was revoked",
    "ledger_unavailable": "the ledger could not be reached; the guard fails closed",
}


def describe(code: str) -> str:
    return REASONS.get(code, code)
