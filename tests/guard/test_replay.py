"""Replay with a fresh lifetime: a key holder re-signs a (jti, sub) pair seen in the logs (every
access event carries them) with a new iat and exp. The ledger must accept a token only exactly
as issued, and keep nothing past a token's exp plus the leeway, in every backend."""

from __future__ import annotations

import time

import pytest

from custodes.guard import Verifier
from custodes.guard.ledger import Issued, open_ledger


@pytest.fixture(params=["memory", "sqlite", "redis"])
def ledger(request, tmp_path):
    url = {"memory": "memory:", "sqlite": f"sqlite:///{tmp_path}/ledger.db"}.get(request.param)
    led = open_ledger(url or request.getfixturevalue("fresh_redis_url"))
    yield led
    led.close()


def lifetime(iat, exp, **extra):
    return {"sub": "cust-1", "jti": "tok-1", "iat": iat, "exp": exp, **extra}


def test_a_seen_token_re_signed_with_a_fresh_lifetime_is_refused(ledger, keyset, signing_keys):
    """The attack of the issue: tok-1/cust-1 was issued an hour ago for two hours; the attacker
    holds the key and signs tok-1/cust-1 again with iat now and exp in 24 h, or keeps one of
    the two and moves the other."""
    now = int(time.time())
    ledger.record("tok-1", "cust-1", "k-ES256", exp=now + 3600, iat=now - 3600)
    verifier = Verifier(keyset, ledger=ledger)
    key = signing_keys["ES256"]
    assert verifier.verify(key.sign(lifetime(now - 3600, now + 3600))).reason == "ok"
    for iat, exp, reason in [(now, now + 86_000, "iat_mismatch"),
                             (now - 3600, now + 20_000, "exp_mismatch"),
                             (now - 60, now + 3600, "iat_mismatch")]:
        verdict = verifier.verify(key.sign(lifetime(iat, exp)))
        assert (verdict.ok, verdict.reason) == (False, reason), (iat, exp)
    assert verifier.verify(key.sign({"sub": "cust-1", "jti": "tok-1", "exp": now + 3600})
                           ).reason == "missing_iat"  # no iat: nothing to compare


def test_a_token_whose_record_expired_cannot_be_revived(ledger, keyset, signing_keys):
    """Issued yesterday, expired: its record is gone at exp + 60 s, so re-signing it with a fresh
    lifetime finds nothing (and with the old lifetime it is expired anyway)."""
    now = int(time.time())
    assert ledger.record_many([Issued("tok-1", "cust-1", "k-ES256", now - 90_000, now - 86_400 + 60),
                               Issued("tok-2", "cust-2", "k-ES256", now - 90_000, now - 61)]) == 0
    verifier = Verifier(keyset, ledger=ledger)
    key = signing_keys["ES256"]
    assert verifier.verify(key.sign(lifetime(now, now + 3600))).reason == "not_issued"
    assert ledger.issued("tok-1") is None and ledger.issued("tok-2") is None


def test_records_expire_at_exp_plus_the_leeway(ledger):
    now = time.time()
    ledger.record("short", "cust-1", "k", exp=now - 58.5, iat=now - 600)  # kept ~1.5 s more
    ledger.record("long", "cust-1", "k", exp=now + 3600, iat=now)
    assert ledger.issued("short") is not None
    deadline = time.time() + 10
    while ledger.issued("short") is not None and time.time() < deadline:
        time.sleep(0.25)
    assert ledger.issued("short") is None
    assert ledger.check("short", "cust-1", "k", now - 600, now - 58.5) == "not_issued"
    assert ledger.issued("long") is not None


def test_expired_records_give_their_space_back(tmp_path):
    """Not only invisible: the memory and SQLite ledgers delete them when they next write."""
    now = time.time()
    for url in ("memory:", f"sqlite:///{tmp_path}/l.db"):
        led = open_ledger(url)
        led.record_many([Issued(f"t{i}", "s", "k", now - 600, now - 59.8) for i in range(100)])
        time.sleep(0.3)
        if url != "memory:":
            led._purged = 0.0  # SQLite deletes at most once a minute; make this write one that does
        led.record("fresh", "s", "k", exp=now + 600, iat=now)
        assert len(led) == 1, url
        led.close()


@pytest.mark.parametrize("issued_iat,issued_exp,token_iat,token_exp,reason", [
    (0.9, 600.7, 0, 600, "ok"),          # an issuance row with milliseconds: whole seconds match
    (0.0, 600.0, 0.999, 600.5, "ok"),     # a token with a fraction: still the same seconds
    (0.9, 600.7, 1, 600, "iat_mismatch"),  # rounding up is another second
    (0.0, 600.0, 0, 601, "exp_mismatch"),
])
def test_sub_second_times_compare_as_whole_seconds(ledger, keyset, signing_keys, issued_iat,
                                                   issued_exp, token_iat, token_exp, reason):
    base = int(time.time()) - 100
    ledger.record("tok-1", "cust-1", "k-HS256", exp=base + issued_exp, iat=base + issued_iat)
    token = signing_keys["HS256"].sign(lifetime(base + token_iat, base + token_exp))
    assert Verifier(keyset, ledger=ledger).verify(token).reason == reason


def test_verify_many_and_verify_async_compare_iat_and_exp_too(ledger, keyset, signing_keys):
    import asyncio

    now = int(time.time())
    ledger.record("tok-1", "cust-1", "k-ES256", exp=now + 3600, iat=now - 3600)
    verifier = Verifier(keyset, ledger=ledger)
    key = signing_keys["ES256"]
    tokens = [key.sign(lifetime(now - 3600, now + 3600)), key.sign(lifetime(now, now + 7200))]
    assert [v.reason for v in verifier.verify_many(tokens)] == ["ok", "iat_mismatch"]

    async def both():
        return [(await verifier.verify_async(t)).reason for t in tokens]
    assert asyncio.run(both()) == ["ok", "iat_mismatch"]


def test_records_are_kept_exactly_as_long_as_the_largest_leeway():
    from custodes.guard.ledger.base import RETAIN
    from custodes.guard.policy import MAX_LEEWAY

    assert RETAIN == MAX_LEEWAY
