"""Server-side sessions: the cookie holds only a random token; the server keeps its SHA-256.

Nothing about the user travels in the cookie, a stolen session store would not hold live
tokens, and logging out ends a session for good. Each session carries its own CSRF token for
the forms it is shown, and the stamp of the password it was opened with: a new password (``serve
--add-user NAME --replace``) changes the stamp, so every session opened with the old one ends
(:func:`custodes.console.auth.current` compares them on each request).

Two stores, one interface: :class:`SessionStore` in the process's memory (the default; sessions
end when the console restarts), and :class:`RedisSessionStore` (``console.redis`` in
``custodes.yaml``), shared by every worker and every console process on it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field

from custodes.console.shared import answering, redis_client

IDLE_TIMEOUT_S = 30 * 60
ABSOLUTE_TIMEOUT_S = 12 * 3600
MAX_SESSIONS = 10_000
MAX_TOKEN = 128
PREFIX = "custodes:console:"


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass
class Session:
    user: str
    csrf: str
    created: float
    last_seen: float
    client: str | None = None
    stamp: str = ""

    def csrf_ok(self, submitted: str | None) -> bool:
        return bool(submitted) and hmac.compare_digest(submitted.encode(), self.csrf.encode())


def _new(user: str, now: float, client: str | None, stamp: str) -> tuple[str, Session]:
    return secrets.token_urlsafe(32), Session(user, secrets.token_urlsafe(32), now, now, client, stamp)


@dataclass
class SessionStore:
    idle_timeout: float = IDLE_TIMEOUT_S
    absolute_timeout: float = ABSOLUTE_TIMEOUT_S
    clock: callable = time.monotonic
    _sessions: dict[str, Session] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self, user: str, client: str | None = None, stamp: str = "") -> tuple[str, Session]:
        """A new session for ``user``; returns the cookie token and the session."""
        now = self.clock()
        token, session = _new(user, now, client, stamp)
        with self._lock:
            self._expire(now)
            if len(self._sessions) >= MAX_SESSIONS:  # bound memory: drop the oldest
                oldest = min(self._sessions, key=lambda k: self._sessions[k].last_seen)
                del self._sessions[oldest]
            self._sessions[_key(token)] = session
        return token, session

    def get(self, token: str | None) -> Session | None:
        if not token or len(token) > MAX_TOKEN:
            return None
        now = self.clock()
        with self._lock:
            session = self._sessions.get(_key(token))
            if session is None:
                return None
            if self._stale(session, now):
                del self._sessions[_key(token)]
                return None
            session.last_seen = now
            return session

    def end(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._sessions.pop(_key(token), None)

    def end_user(self, user: str) -> None:
        with self._lock:
            for key in [k for k, s in self._sessions.items() if s.user == user]:
                del self._sessions[key]

    def _stale(self, session: Session, now: float) -> bool:
        return (now - session.last_seen > self.idle_timeout
                or now - session.created > self.absolute_timeout)

    def _expire(self, now: float) -> None:
        for key in [k for k, s in self._sessions.items() if self._stale(s, now)]:
            del self._sessions[key]


class RedisSessionStore:
    """Sessions in Redis: ``custodes:console:session:<sha256 of the token>``, a hash of the
    session's fields that expires after the idle timeout (renewed on use, never past the
    absolute one), and ``custodes:console:user:<name>``, the set of a user's session keys."""

    def __init__(self, client, idle_timeout: float = IDLE_TIMEOUT_S, absolute_timeout: float = ABSOLUTE_TIMEOUT_S,
                 clock=time.time):
        self.client = client
        self.idle_timeout, self.absolute_timeout, self.clock = idle_timeout, absolute_timeout, clock

    @classmethod
    def from_url(cls, url: str, **kwargs) -> RedisSessionStore:
        return cls(redis_client(url), **kwargs)

    def _ttl(self, session: Session, now: float) -> int:
        left = min(self.idle_timeout, session.created + self.absolute_timeout - now)
        return max(1, int(left + 0.999))

    def create(self, user: str, client: str | None = None, stamp: str = "") -> tuple[str, Session]:
        now = self.clock()
        token, session = _new(user, now, client, stamp)
        key = PREFIX + "session:" + _key(token)
        fields = {k: ("" if v is None else str(v)) for k, v in asdict(session).items()}
        with answering():
            pipe = self.client.pipeline()
            pipe.hset(key, mapping=fields)
            pipe.expire(key, self._ttl(session, now))
            pipe.sadd(PREFIX + "user:" + user, key)
            pipe.expire(PREFIX + "user:" + user, int(self.absolute_timeout) + 60)
            pipe.execute()
        return token, session

    def get(self, token: str | None) -> Session | None:
        if not token or len(token) > MAX_TOKEN:
            return None
        key = PREFIX + "session:" + _key(token)
        with answering():
            raw = self.client.hgetall(key)
        if not raw:
            return None
        try:
            session = Session(raw["user"], raw["csrf"], float(raw["created"]), float(raw["last_seen"]),
                              raw.get("client") or None, raw.get("stamp", ""))
        except (KeyError, ValueError):
            self._delete(key, raw.get("user"))
            return None
        now = self.clock()
        if now - session.last_seen > self.idle_timeout or now - session.created > self.absolute_timeout:
            self._delete(key, session.user)
            return None
        session.last_seen = now
        with answering():
            pipe = self.client.pipeline()
            pipe.hset(key, "last_seen", repr(now))
            pipe.expire(key, self._ttl(session, now))
            pipe.execute()
        return session

    def end(self, token: str | None) -> None:
        if token and len(token) <= MAX_TOKEN:
            key = PREFIX + "session:" + _key(token)
            with answering():
                user = self.client.hget(key, "user")
            self._delete(key, user)

    def end_user(self, user: str) -> None:
        index = PREFIX + "user:" + user
        with answering():
            keys = self.client.smembers(index)
            self.client.delete(index, *keys)

    def _delete(self, key: str, user: str | None) -> None:
        with answering():
            pipe = self.client.pipeline()
            pipe.delete(key)
            if user:
                pipe.srem(PREFIX + "user:" + user, key)
            pipe.execute()


def open_session_store(url: str | None):
    """Memory when ``url`` is empty, else Redis at ``url``."""
    return RedisSessionStore.from_url(url) if url else SessionStore()
