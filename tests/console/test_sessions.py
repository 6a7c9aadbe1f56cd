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


# Sessions in Redis: shared by every worker -------------------------------------------------
import pytest  # noqa: E402

from custodes.console.sessions import RedisSessionStore  # noqa: E402


@pytest.fixture
def redis_store(console_redis):
    return RedisSessionStore.from_url(console_redis)


def test_redis_keeps_only_the_tokens_hash(redis_store):
    token, session = redis_store.create("anna", "198.51.100.10", stamp="s1")
    keys = redis_store.client.keys("*")
    assert keys and not [k for k in keys if token in k]
    assert not [v for k in keys if redis_store.client.type(k) == "hash" for v in redis_store.client.hvals(k) if token in v]
    got = redis_store.get(token)
    assert (got.user, got.csrf, got.stamp, got.client) == ("anna", session.csrf, "s1", "198.51.100.10")
    assert redis_store.get("forged") is None and redis_store.get(None) is None and redis_store.get("x" * 500) is None
    session_key = next(k for k in keys if ":session:" in k)
    assert 0 < redis_store.client.ttl(session_key) <= 30 * 60  # it expires by itself when idle


def test_redis_idle_and_absolute_timeouts(console_redis):
    now = [1_000_000.0]
    store = RedisSessionStore.from_url(console_redis, idle_timeout=100, absolute_timeout=1000, clock=lambda: now[0])
    token, _ = store.create("anna")
    for _ in range(9):
        now[0] += 99
        assert store.get(token) is not None
    now[0] += 149
    assert store.get(token) is None
    token, _ = store.create("anna")
    now[0] += 101
    assert store.get(token) is None


def test_redis_ending_all_of_a_users_sessions(redis_store):
    a, _ = redis_store.create("anna")
    b, _ = redis_store.create("anna")
    c, _ = redis_store.create("adam")
    redis_store.end_user("anna")
    assert redis_store.get(a) is None and redis_store.get(b) is None and redis_store.get(c) is not None
    redis_store.end(c)
    assert redis_store.get(c) is None


def _app(ws):
    from custodes.console.app import create_app

    from .helpers import HandMadeSources

    return create_app(ws, sources=HandMadeSources(ws), allowed_hosts=["testserver"])


def test_a_session_opened_on_one_worker_works_on_another(ws, console_redis):
    """Two apps over one workspace, as two worker processes have: each its own store object."""
    from starlette.testclient import TestClient

    from .helpers import login

    first, second = _app(ws), _app(ws)
    with TestClient(first, base_url="http://testserver", follow_redirects=False) as one, \
            TestClient(second, base_url="http://testserver", follow_redirects=False) as other:
        assert login(one, "anna").status_code == 303
        other.cookies = one.cookies
        assert other.get("/incidents").status_code == 200
    # the login back-off is shared too
    with TestClient(first, base_url="http://testserver", follow_redirects=False) as one, \
            TestClient(second, base_url="http://testserver", follow_redirects=False) as other:
        for _ in range(5):
            assert login(one, "adam", password="guess-guess-guess").status_code == 401
        assert login(other, "adam").status_code == 429


def test_a_password_reset_ends_redis_sessions(ws, console_redis):
    from starlette.testclient import TestClient

    from custodes.console.users import UserStore

    from .helpers import login

    with TestClient(_app(ws), base_url="http://testserver", follow_redirects=False) as client:
        assert login(client, "anna").status_code == 303
        UserStore.of(ws, log2_n=12).add("anna", "analyst", "a-new-analyst-password", replace=True)
        assert client.get("/incidents").status_code == 303


def test_without_redis_nobody_is_let_in(ws):
    """The session store is down: refuse (503), never fall back to letting anyone in."""
    from starlette.testclient import TestClient

    from .helpers import login

    with socket_closed_port() as port:
        ws.config_path.write_text(f"console:\n  redis: redis://127.0.0.1:{port}/0\n")
        with TestClient(_app(ws), base_url="http://testserver", follow_redirects=False) as client:
            r = login(client, "anna")
            assert r.status_code == 503 and "custodes_session" not in r.cookies
            client.cookies.set("custodes_session", "x" * 43)
            assert client.get("/incidents").status_code == 503


def socket_closed_port():
    import contextlib
    import socket

    @contextlib.contextmanager
    def closed():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            yield s.getsockname()[1]  # bound, not listening: connections are refused
    return closed()
