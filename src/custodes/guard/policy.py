"""The acceptance policy (CONTRACT.md §5): one :class:`Verifier`, one :class:`Verdict` per token.

Checks run cheapest and most telling first, and a token is refused at the first that fails,
with one reason code from :mod:`custodes.guard.reasons`. ``verify`` never raises for anything a
client can send; the only exception it lets through is a bug.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from custodes.guard import jws
from custodes.guard.cache import VerdictCache
from custodes.guard.keys import Key, KeySet
from custodes.guard.ledger.base import Ledger, LedgerUnavailable  # light: no backend

MAX_LEEWAY = 60  # seconds; CONTRACT.md §5 allows at most this much clock skew
DEFAULT_MAX_LIFETIME = 24 * 3600
DEFAULT_MAX_TOKEN_BYTES = 8192  # far above any real access token; 1 MB tokens die here
_KEY_BEARING_MEMBERS = ("jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256")
_STRING_CLAIMS = ("sub", "jti", "sid", "iss")


@dataclass(slots=True)
class Verdict:
    ok: bool
    reason: str
    kid: str | None = None
    sub: str | None = None
    jti: str | None = None
    sid: str | None = None
    iat: float | None = None
    exp: float | None = None
    claims: dict[str, Any] = field(default_factory=dict, repr=False)

    def as_json(self) -> dict[str, Any]:
        """The verdict line of ``custodes guard verify``."""
        return {"ok": self.ok, "reason": self.reason, "kid": self.kid, "sub": self.sub, "jti": self.jti}


def _reject(reason: str, **known: Any) -> Verdict:
    return Verdict(False, reason, **known)


class Verifier:
    """Verifies bearer tokens against a key set, the policy's bounds and, optionally, a ledger.

    ``ledger_failure`` says what an unreachable ledger means: ``"closed"`` (the default) refuses
    the token with ``ledger_unavailable``; ``"open"`` accepts it on signature and claims alone
    with reason ``ok_unchecked``, for operators who prefer availability (not recommended).
    """

    def __init__(self, keys: KeySet, *, issuer: str | None = None, audience: str | None = None,
                 ledger: Ledger | None = None, max_lifetime: float = DEFAULT_MAX_LIFETIME,
                 leeway: float = MAX_LEEWAY, max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES,
                 typ: frozenset[str] | None = None, cache: VerdictCache | None = None,
                 ledger_failure: str = "closed"):
        if not 0 <= leeway <= MAX_LEEWAY:
            raise ValueError(f"leeway must be between 0 and {MAX_LEEWAY} seconds")
        if max_lifetime <= 0:
            raise ValueError("max_lifetime must be positive")
        if ledger_failure not in ("closed", "open"):
            raise ValueError("ledger_failure is 'closed' or 'open'")
        self.keys, self.issuer, self.audience, self.ledger = keys, issuer, audience, ledger
        self.max_lifetime, self.leeway, self.max_token_bytes = max_lifetime, leeway, max_token_bytes
        self.typ = typ
        self.cache = cache
        self.ledger_failure = ledger_failure
        # Headers repeat (one per key), so their checks are memoised by the exact segment text.
        self._headers: dict[str, tuple[str | None, Key | None]] = {}
        if ledger is not None and cache is not None:
            ledger.on_revoke(cache.clear)  # a revocation through this ledger empties the cache now
            ledger.watch_revocations(cache.clear)  # and one made on any other node sharing it

    # The one entry point -------------------------------------------------------------------
    def verify(self, token: str | bytes | None, now: float | None = None) -> Verdict:
        if not token:
            return _reject("missing_token")
        if len(token) > self.max_token_bytes:  # before any decoding, splitting or hashing
            return _reject("oversize")
        if now is None:
            now = time.time()
        if isinstance(token, bytes):
            try:
                token = token.decode("ascii")
            except UnicodeDecodeError:
                return _reject("malformed")
        elif not token.isascii():
            return _reject("malformed")
        cache = self.cache
        if cache is None:
            return self._verify(token, now)
        hit = cache.get(token, now)
        if hit is not None:
            return hit
        generation = cache.generation
        verdict = self._verify(token, now)
        if verdict.reason == "ok":
            cache.put(token, verdict, now, generation)
        return verdict

    async def verify_async(self, token: str | bytes | None, now: float | None = None) -> Verdict:
        """``verify`` for an event loop: the same checks, with the ledger's look-up awaited when
        the ledger's ``check_async`` can wait without blocking (Redis), so many requests wait on
        it at once."""
        ledger = self.ledger
        if ledger is None or not ledger.awaits_check:
            return self.verify(token, now)
        rejected = self._precheck(token)
        if rejected is not None or not token:
            return rejected or _reject("missing_token")
        if isinstance(token, bytes):
            token = token.decode("ascii")
        now = time.time() if now is None else now
        cache = self.cache
        generation = None
        if cache is not None:
            hit = cache.get(token, now)
            if hit is not None:
                return hit
            generation = cache.generation
        verdict = self._verify(token, now, check_ledger=False)
        if verdict.ok and self._ledger_claims(verdict):
            try:
                reason = await ledger.check_async(*_ledger_question(verdict))
            except LedgerUnavailable:
                reason = self._ledger_down_reason()
            self._apply_ledger(verdict, reason)
            if verdict.reason == "ok" and cache is not None:
                cache.put(token, verdict, now, generation)
        return verdict

    def verify_many(self, tokens: Sequence[str | bytes | None], now: float | None = None) -> list[Verdict]:
        """Verify a batch; with a ledger, its look-ups go in one round trip (Redis pipeline)."""
        now = time.time() if now is None else now
        verdicts = [self._precheck(t) or self._verify(t or "", now, check_ledger=False)  # t: precheck passed it
                    for t in tokens]
        if self.ledger is None:
            return verdicts
        todo = [i for i, v in enumerate(verdicts) if v.ok and self._ledger_claims(v)]
        try:
            outcomes = self.ledger.check_many([_ledger_question(verdicts[i]) for i in todo])
        except LedgerUnavailable:
            outcomes = [self._ledger_down_reason()] * len(todo)
        for i, reason in zip(todo, outcomes):
            self._apply_ledger(verdicts[i], reason)
        return verdicts

    def _precheck(self, token: str | bytes | None) -> Verdict | None:
        """The checks before any parsing; the token, decoded to text, is left for ``_verify``."""
        if not token:
            return _reject("missing_token")
        if len(token) > self.max_token_bytes:
            return _reject("oversize")
        if isinstance(token, bytes):
            try:
                token.decode("ascii")
            except UnicodeDecodeError:
                return _reject("malformed")
        elif not token.isascii():
            return _reject("malformed")
        return None

    def _ledger_down_reason(self) -> str:
        return "ok_unchecked" if self.ledger_failure == "open" else "ledger_unavailable"

    @staticmethod
    def _apply_ledger(verdict: Verdict, reason: str | None) -> None:
        if reason is None:
            return
        if reason == "ok_unchecked":
            verdict.reason = reason
            return
        verdict.ok, verdict.reason = False, reason

    # The checks ----------------------------------------------------------------------------
    def _verify(self, token: str | bytes, now: float, check_ledger: bool = True) -> Verdict:
        if isinstance(token, bytes):
            token = token.decode("ascii")  # _precheck or verify made sure it is ASCII
        try:
            header_seg, payload_seg, signature_seg = jws.split(token)
            reason, key = self._header(header_seg)
            if reason is not None or key is None:  # a reason, or else a key
                return _reject(reason or "bad_header")
            if key.retired_at is not None and now >= key.retired_at:
                return _reject("key_retired", kid=key.kid)
            signature = jws.segment(signature_seg)
            signing_input = token[: len(header_seg) + 1 + len(payload_seg)].encode("ascii")
            if not key.verify(signing_input, signature):
                return _reject("bad_signature", kid=key.kid)
            claims = jws.json_object(jws.segment(payload_seg), "bad_payload")
        except jws.JWSError as exc:
            return _reject(exc.reason)
        except UnicodeEncodeError:  # a non-ASCII character in a segment the regex did not see
            return _reject("malformed")
        return self._claims(claims, key, now, check_ledger)

    def _header(self, header_seg: str) -> tuple[str | None, Key | None]:
        known = self._headers.get(header_seg)
        if known is None:
            try:
                known = self._check_header(jws.json_object(jws.segment(header_seg), "bad_header"))
            except jws.JWSError as exc:
                known = (exc.reason, None)
            if len(self._headers) >= 4096:  # an attacker can vary headers; keep the memo bounded
                self._headers.clear()
            self._headers[header_seg] = known
        return known

    def _check_header(self, header: dict[str, Any]) -> tuple[str | None, Key | None]:
        alg = header.get("alg")
        if not isinstance(alg, str):
            return "bad_header", None
        if alg.lower() == "none":
            return "alg_none", None
        if any(member in header for member in _KEY_BEARING_MEMBERS):
            return "embedded_key", None
        if "crit" in header:  # the guard implements no extension, so any critical one is unknown
            return "unsupported_crit", None
        if "b64" in header or "zip" in header:
            return "unsupported_header", None
        cty, typ = header.get("cty"), header.get("typ")
        if cty is not None and (not isinstance(cty, str) or cty.upper() in ("JWT", "APPLICATION/JWT")):
            return "unsupported_header", None  # nested JWTs: one layer of trust only
        if typ is not None and not isinstance(typ, str):
            return "bad_header", None
        if self.typ is not None and typ not in self.typ:
            return "bad_typ", None
        kid = header.get("kid")
        if kid is None:
            return "missing_kid", None
        if not isinstance(kid, str):
            return "bad_header", None
        key = self.keys.get(kid)
        if key is None:
            return "unknown_kid", None
        if alg != key.alg:
            return "alg_mismatch", None
        return None, key

    def _claims(self, claims: dict[str, Any], key: Key, now: float, check_ledger: bool) -> Verdict:
        kid = key.kid
        for name in _STRING_CLAIMS:
            value = claims.get(name)
            # Control characters (CR, LF, NUL, ...) are never a legitimate id, and these values
            # travel on as HTTP headers (X-Custodes-Subject) and log fields.
            if value is not None and not (isinstance(value, str) and value.isprintable()):
                return _reject("bad_payload", kid=kid)
        sub, jti, sid = claims.get("sub"), claims.get("jti"), claims.get("sid")
        known = {"kid": kid, "sub": sub, "jti": jti}
        exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
        if exp is None:
            return _reject("missing_exp", **known)
        if not jws.is_number(exp) or any(v is not None and not jws.is_number(v) for v in (nbf, iat)):
            return _reject("bad_payload", **known)
        leeway = self.leeway
        if now >= exp + leeway:
            return _reject("expired", **known)
        if nbf is not None and nbf > now + leeway:
            return _reject("not_yet_valid", **known)
        if iat is not None and iat > now + leeway:
            return _reject("iat_in_future", **known)
        start = iat if iat is not None else (nbf if nbf is not None else now)
        if exp - start > self.max_lifetime:
            return _reject("lifetime_exceeded", **known)
        if self.issuer is not None and claims.get("iss") != self.issuer:
            return _reject("bad_issuer", **known)
        if self.audience is not None and not _audience_matches(claims.get("aud"), self.audience):
            return _reject("bad_audience", **known)
        verdict = Verdict(True, "ok", kid, sub, jti, sid, iat, exp, claims)
        if check_ledger and self.ledger is not None and self._ledger_claims(verdict):
            self._ledger_check(verdict)
        return verdict

    @staticmethod
    def _ledger_claims(verdict: Verdict) -> bool:
        """A ledger compares jti, sub, iat (and exp, always present by now) with what was
        issued; refuse the verdict when one is missing."""
        if verdict.jti is None:
            verdict.ok, verdict.reason = False, "missing_jti"
        elif verdict.sub is None:
            verdict.ok, verdict.reason = False, "missing_sub"
        elif verdict.iat is None:
            verdict.ok, verdict.reason = False, "missing_iat"
        return verdict.ok

    def _ledger_check(self, verdict: Verdict) -> None:
        if self.ledger is None:
            return
        try:
            reason = self.ledger.check(*_ledger_question(verdict))
        except LedgerUnavailable:
            reason = self._ledger_down_reason()
        self._apply_ledger(verdict, reason)


def _ledger_question(verdict: Verdict) -> tuple[str, str, str, float, float]:
    """What the ledger compares: (jti, sub, kid, iat, exp) as the token carries them (all set
    once the signature and ``_ledger_claims`` passed)."""
    return cast(tuple[str, str, str, float, float],
                (verdict.jti, verdict.sub, verdict.kid, verdict.iat, verdict.exp))


def _audience_matches(aud: object, expected: str) -> bool:
    if isinstance(aud, str):
        return aud == expected
    if isinstance(aud, list):
        return all(isinstance(a, str) for a in aud) and expected in aud
    return False
