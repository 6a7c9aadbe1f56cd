"""One interface, three backends (memory, SQLite, a real Redis): the same behaviour from each."""

from __future__ import annotations

import datetime as dt
import os
import stat

import pytest

from custodes.errors import UsageError
from custodes.guard.ledger import Issued, LedgerUnavailable, open_ledger

import time

from .conftest import LIFETIME, NOW, claims, free_port

LIFE = (NOW, NOW + 3600)  # (iat, exp) of the tokens most tests record


@pytest.fixture(params=["memory", "sqlite", "redis"])
def ledger_url(request, tmp_path):
    if request.param == "memory":
        return "memory:"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/ledger.db"  # sqlite:/// + an absolute path = four slashes
    return request.getfixturevalue("fresh_redis_url")


@pytest.fixture
def ledger(ledger_url):
    led = open_ledger(ledger_url)
    yield led
    led.close()


def test_issued_token_checks_clean_and_others_do_not(ledger):
    ledger.record("j1", "alice", "k1", exp=NOW + 3600, iat=NOW)
    assert ledger.check("j1", "alice", "k1", *LIFE) is None
    assert ledger.check("j2", "alice", "k1", *LIFE) == "not_issued"
    assert ledger.check("j1", "mallory", "k1", *LIFE) == "sub_mismatch"
    assert ledger.check("j1", "alice", "k2", *LIFE) == "kid_mismatch"


def test_record_accepts_datetimes_and_reads_back(ledger):
    exp = dt.datetime.fromtimestamp(NOW + 3600, dt.timezone.utc) + dt.timedelta(days=365 * 30)
    ledger.record("j1", "alice", "k1", exp=exp, iat=dt.datetime.fromtimestamp(NOW, dt.timezone.utc))
    got = ledger.issued("j1")
    assert (got.jti, got.sub, got.kid) == ("j1", "alice", "k1")
    assert got.iat == pytest.approx(NOW)
    assert ledger.issued("nope") is None


def test_revoke_by_jti_and_kid_is_for_good(ledger):
    ledger.record_many([Issued("j1", "alice", "k1", NOW, NOW + 3600),
                        Issued("j2", "bob", "k1", NOW, NOW + 3600),
                        Issued("j3", "carol", "k2", NOW, NOW + 3600)])
    ledger.revoke(jti="j1", at=NOW + 1)
    assert ledger.check("j1", "alice", "k1", *LIFE) == "revoked_jti"
    assert ledger.check("j2", "bob", "k1", *LIFE) is None
    ledger.revoke(kid="k1", at=NOW + 2)
    assert ledger.check("j2", "bob", "k1", *LIFE) == "revoked_kid"
    assert ledger.check("j3", "carol", "k2", *LIFE) is None
    assert ledger.is_revoked(jti="j1") and ledger.is_revoked(kid="k1")
    assert not ledger.is_revoked(jti="j3", kid="k2")


def test_revoke_by_sub_cuts_off_tokens_issued_until_then(ledger):
    """Offboarding revokes what the person holds now; a fresh login after it is new."""
    ledger.record("old", "alice", "k1", exp=NOW + 3600, iat=NOW)
    ledger.revoke(sub="alice", at=NOW + 10)
    ledger.record("new", "alice", "k1", exp=NOW + 3600, iat=NOW + 20)
    assert ledger.check("old", "alice", "k1", *LIFE) == "revoked_sub"
    assert ledger.check("new", "alice", "k1", NOW + 20, NOW + 3600) is None
    assert ledger.is_revoked(sub="alice")
    assert ledger.is_revoked(sub="alice", iat=NOW + 5)
    assert not ledger.is_revoked(sub="alice", iat=NOW + 20)
    ledger.revoke(sub="alice", at=NOW + 5)  # an older revocation never moves the cut-off back
    assert ledger.check("old", "alice", "k1", *LIFE) == "revoked_sub"
    assert ledger.is_revoked(sub="alice", iat=NOW + 8)


def test_revoke_needs_something_to_revoke(ledger):
    with pytest.raises(ValueError):
        ledger.revoke()


def test_check_many_matches_check(ledger):
    ledger.record_many([Issued(f"j{i}", f"u{i}", "k1", NOW, NOW + 3600) for i in range(50)])
    ledger.revoke(jti="j7", at=NOW)
    items = [(f"j{i}", f"u{i}", "k1", *LIFE) for i in range(60)] + [("j3", "u4", "k1", *LIFE),
                                                                   ("j3", "u3", "k9", *LIFE)]
    assert ledger.check_many(items) == [ledger.check(*item) for item in items]
    assert ledger.check_many(items)[7] == "revoked_jti"
    assert ledger.check_many(items)[55] == "not_issued"


def test_check_async_matches_check_on_every_backend(ledger):
    # check_async is declared on the base ledger: every backend answers it, and the same way as
    # check; only a backend that waits without blocking the loop says so (awaits_check).
    import asyncio

    ledger.record_many([Issued(f"j{i}", f"u{i}", "k1", NOW, NOW + 3600) for i in range(5)])
    ledger.revoke(sub="u2", at=NOW + 1)
    items = [(f"j{i}", f"u{i}", "k1", *LIFE) for i in range(6)] + [("j1", "u1", "k9", *LIFE)]

    async def ask() -> list[str | None]:
        return [await ledger.check_async(*item) for item in items]

    assert asyncio.run(ask()) == [ledger.check(*item) for item in items]
    assert ledger.awaits_check == ledger.remote == ledger.url.startswith("redis")


def test_hostile_identifiers_are_just_strings(ledger):
    weird = ["a:b", "t:x", "rj:j1", "x|3|abc", "' OR 1=1 --", "é\u2028\x00", "*", ""]
    for i, value in enumerate(weird):
        ledger.record(f"j{i}{value}", value, value or "k", exp=NOW + 3600, iat=NOW)
    for i, value in enumerate(weird):
        assert ledger.check(f"j{i}{value}", value, value or "k", *LIFE) is None
    ledger.revoke(sub="*", at=NOW + 1)
    assert ledger.check("j0a:b", "a:b", "a:b", *LIFE) is None  # no pattern matching in revocation


@pytest.mark.parametrize("backend", ["sqlite", "redis"])  # memory: is one process's, by design
def test_revocation_is_seen_by_a_second_handle_on_the_same_store(backend, request, tmp_path):
    ledger_url = (f"sqlite:///{tmp_path}/ledger.db" if backend == "sqlite"
                  else request.getfixturevalue("fresh_redis_url"))
    a, b = open_ledger(ledger_url), open_ledger(ledger_url)
    a.record("j1", "alice", "k1", exp=NOW + 3600, iat=NOW)
    assert b.check("j1", "alice", "k1", *LIFE) is None
    b.revoke(jti="j1")
    assert a.check("j1", "alice", "k1", *LIFE) == "revoked_jti"
    a.close()
    b.close()


def test_sqlite_file_is_private(tmp_path):
    path = tmp_path / "sub" / "ledger.db"
    open_ledger(f"sqlite:///{path}").close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_sqlite_relative_url_is_relative(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    led = open_ledger("sqlite:///rel/ledger.db")
    led.record("j1", "a", "k", exp=NOW + 10, iat=NOW)
    led.close()
    assert (tmp_path / "rel" / "ledger.db").exists()


@pytest.mark.parametrize("url", ["mysql://x", "sqlite://", "sqlite:///", "memory", "redis:/x", ""])
def test_unknown_urls_are_usage_errors(url):
    with pytest.raises(UsageError):
        open_ledger(url)


def test_redis_down_raises_ledger_unavailable_quickly():
    import time

    led = open_ledger(f"redis://127.0.0.1:{free_port()}/0")
    started = time.perf_counter()
    with pytest.raises(LedgerUnavailable):
        led.check("j1", "a", "k", *LIFE)
    with pytest.raises(LedgerUnavailable):
        led.revoke(jti="j1")
    assert time.perf_counter() - started < 5


def test_redis_records_expire_with_their_tokens(fresh_redis_url):
    import time

    import redis

    led = open_ledger(fresh_redis_url)
    now = time.time()
    assert led.record_many([Issued("live", "a", "k", now, now + 600),
                            Issued("dead", "a", "k", now - 7200, now - 3600)]) == 1
    ttl = redis.Redis.from_url(fresh_redis_url).ttl("custodes:guard:i:live")
    assert 600 < ttl <= 600 + 61
    assert led.check("dead", "a", "k", *LIFE) == "not_issued"


def test_verifier_with_each_backend(ledger, verifier, signing_keys):
    ledger.record("tok-1", "cust-1", "k-ES256", exp=NOW + LIFETIME, iat=NOW - 10)
    v = verifier(ledger=ledger)
    key = signing_keys["ES256"]
    now = dict(iat=int(NOW) - 10, exp=int(NOW) + LIFETIME)
    tokens = [key.sign(claims(**now)), key.sign(claims(jti="tok-2", **now)),
              key.sign(claims(sub="x", **now))]
    assert [x.reason for x in v.verify_many(tokens, NOW)] == ["ok", "not_issued", "sub_mismatch"]
    assert [v.verify(t, NOW).reason for t in tokens] == ["ok", "not_issued", "sub_mismatch"]


def test_redis_outage_fails_closed_then_recovers(tmp_path):
    """Stop Redis under a live ledger: checks fail closed; start it again: they answer again."""
    import shutil
    import socket
    import subprocess

    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (scripts/setup.sh installs it)")
    port = free_port()

    def start():
        proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--dir", str(tmp_path)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return proc
            except OSError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    server = start()
    try:
        led = open_ledger(f"redis://127.0.0.1:{port}/0")
        led.record("j1", "alice", "k1", exp=NOW + 3600, iat=NOW)
        assert led.check("j1", "alice", "k1", *LIFE) is None
        server.terminate()
        server.wait(timeout=10)
        with pytest.raises(LedgerUnavailable):
            led.check("j1", "alice", "k1", *LIFE)
        server = start()  # an empty Redis (no persistence): the token is not known any more
        assert led.check("j1", "alice", "k1", *LIFE) == "not_issued"
        led.record("j1", "alice", "k1", exp=NOW + 3600, iat=NOW)
        assert led.check("j1", "alice", "k1", *LIFE) is None
        led.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
