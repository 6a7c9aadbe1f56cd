"""Server-side sessions: random tokens, idle and absolute expiry, nothing usable stored."""

from __future__ import annotations

from custodes.console.sessions import SessionStore


def test_tokens_are_random_and_only_their_hash_is_kept():
    store = SessionStore()
    token, session = store.create("anna")
    other, _ = store.create("anna")
    assert token != other and len(token) >= 40
    assert token not in store._sessions and store.get(token) is session
    assert store.get("forged") is None and store.get(None) is None and store.get("x" * 500) is None


def test_idle_and_absolute_timeouts():
    now = [0.0]
    store = SessionStore(idle_timeout=100, absolute_timeout=1000, clock=lambda: now[0])
    token, _ = store.create("anna")
    for _ in range(9):
        now[0] += 99
        assert store.get(token) is not None  # kept alive by use
    now[0] += 99 + 50  # past the absolute limit even though in use
    assert store.get(token) is None
    token, _ = store.create("anna")
    now[0] += 101
    assert store.get(token) is None


def test_csrf_token_comparison():
    _, session = SessionStore().create("anna")
    assert session.csrf_ok(session.csrf)
    assert not session.csrf_ok(None) and not session.csrf_ok("") and not session.csrf_ok(session.csrf[:-1])


def test_ending_all_of_a_users_sessions():
    store = SessionStore()
    a, _ = store.create("anna")
    b, _ = store.create("anna")
    c, _ = store.create("adam")
    store.end_user("anna")
    assert store.get(a) is None and store.get(b) is None and store.get(c) is not None
