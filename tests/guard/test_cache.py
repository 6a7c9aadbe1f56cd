"""The verdict cache: hits are the same verdict, and exp and revocation are honoured."""

from __future__ import annotations

import asyncio
import time

import pytest

from custodes.guard import VerdictCache, Verifier
from custodes.guard.ledger import LedgerUnavailable, open_ledger
from custodes.guard.ledger.memory import MemoryLedger

from .conftest import LIFETIME, NOW, claims


def test_cached_verdict_skips_verification_until_exp(verifier, signing_keys, monkeypatch):
    key = signing_keys["ES256"]
    v = verifier(cache=VerdictCache(ttl=3600))
    token = key.sign(claims(exp=int(NOW) + 100))
    first = v.verify(token, NOW)
    assert first.ok
    calls = []
    monkeypatch.setattr(v, "_verify", lambda *a, **k: calls.append(a) or first)
    assert v.verify(token, NOW + 50) is first and not calls  # served from the cache
    assert v.verify(token, NOW + 100) is first and calls  # at exp the cache lets go


def test_cache_expires_after_ttl(verifier, signing_keys):
    cache = VerdictCache(ttl=5)
    v = verifier(cache=cache)
    token = signing_keys["ES256"].sign(claims())
    assert v.verify(token, NOW).ok and len(cache) == 1
    assert cache.get(token, NOW + 4.9) is not None
    assert cache.get(token, NOW + 5) is None


def test_rejections_are_not_cached(verifier, signing_keys):
    cache = VerdictCache()
    v = verifier(cache=cache)
    assert not v.verify(signing_keys["ES256"].sign(claims(iss="x")), NOW).ok
    assert len(cache) == 0


def test_cache_is_bounded(verifier, signing_keys):
    cache = VerdictCache(max_entries=10, ttl=3600)
    v = verifier(cache=cache)
    key = signing_keys["HS256"]
    for i in range(25):
        assert v.verify(key.sign(claims(jti=f"t{i}")), NOW).ok
    assert len(cache) == 10


def test_revocation_through_the_ledger_empties_the_cache_at_once(verifier, signing_keys):
    ledger = open_ledger("memory:")
    ledger.record("tok-1", "cust-1", "k-ES256", exp=NOW + LIFETIME, iat=NOW - 10)
    v = verifier(ledger=ledger, cache=VerdictCache(ttl=3600))
    token = signing_keys["ES256"].sign(claims())
    assert v.verify(token, NOW).ok and v.verify(token, NOW).ok
    ledger.revoke(sub="cust-1", at=NOW)
    assert v.verify(token, NOW).reason == "revoked_sub"


def test_revocation_on_another_node_reaches_this_nodes_cache(verifier, signing_keys,
                                                            fresh_redis_url):
    """Two gateway nodes share Redis; node B revokes; node A's cache lets go (pub/sub)."""
    node_a, node_b = open_ledger(fresh_redis_url), open_ledger(fresh_redis_url)
    now = float(int(time.time()))
    node_b.record("tok-1", "cust-1", "k-ES256", exp=now + 600, iat=now - 10)
    v = verifier(ledger=node_a, cache=VerdictCache(ttl=3600))
    token = signing_keys["ES256"].sign(claims(iat=int(now) - 10, exp=int(now) + 600))
    assert v.verify(token).ok
    time.sleep(0.2)  # the subscriber thread is listening
    node_b.revoke(jti="tok-1")
    deadline = time.time() + 5
    while time.time() < deadline and v.verify(token).ok:
        time.sleep(0.05)
    assert v.verify(token).reason == "revoked_jti"
    node_a.close()
    node_b.close()


def test_a_verdict_reached_before_a_revocation_is_not_cached_after_it(verifier, signing_keys):
    """The race: the ledger said yes, then a revocation cleared the cache, then the old yes
    arrived to be stored. It must not be."""
    ledger = open_ledger("memory:")
    ledger.record("tok-1", "cust-1", "k-ES256", exp=NOW + LIFETIME, iat=NOW - 10)
    cache = VerdictCache(ttl=3600)
    v = verifier(ledger=ledger, cache=cache)
    check = ledger.check

    def check_then_revoked_meanwhile(*args):
        answer = check(*args)
        ledger.revoke(jti="tok-1", at=NOW)  # lands while the verdict is on its way
        return answer

    ledger.check = check_then_revoked_meanwhile
    token = signing_keys["ES256"].sign(claims())
    assert v.verify(token, NOW).ok  # this request was answered before the revocation...
    ledger.check = check
    assert len(cache) == 0  # ...but its verdict was not kept
    assert v.verify(token, NOW).reason == "revoked_jti"


class FlakyLedger(MemoryLedger):
    """A ledger that is down until told otherwise."""
    down = True

    def check(self, *args):
        if self.down:
            raise LedgerUnavailable("down")
        return super().check(*args)

    async def check_async(self, *args):
        return self.check(*args)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_unchecked_acceptance_is_not_cached(keyset, signing_keys, mode):
    """A forged token passes unchecked while the ledger is down (fail open); once it answers
    again, the very next request is checked, not served from the cache."""
    ledger = FlakyLedger()
    verifier = Verifier(keyset, ledger=ledger, ledger_failure="open", cache=VerdictCache(ttl=60))
    forged = signing_keys["ES256"].sign(claims(jti="forged"))

    def verify():
        return verifier.verify(forged) if mode == "sync" else asyncio.run(verifier.verify_async(forged))

    assert verify().reason == "ok_unchecked"
    ledger.down = False
    assert verify().reason == "not_issued"


@pytest.mark.parametrize("ttl", [float("inf"), float("nan"), 0.0, -1.0])
def test_the_cache_ttl_must_be_finite_and_positive(ttl):
    with pytest.raises(ValueError):
        VerdictCache(ttl=ttl)
