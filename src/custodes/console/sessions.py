"""Server-side sessions: the cookie holds only a random token; the server keeps its SHA-256.

Nothing about the user travels in the cookie, a stolen session file would not hold live tokens,
and logging out (or restarting the console) ends a session for good. Each session carries its
own CSRF token for the forms it is shown.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

IDLE_TIMEOUT_S = 30 * 60
ABSOLUTE_TIMEOUT_S = 12 * 3600
MAX_SESSIONS = 10_000


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass
class Session:
    user: str
    csrf: str
    created: float
    last_seen: float
    client: str | None = None

    def csrf_ok(self, submitted: str | None) -> bool:
        return bool(submitted) and hmac.compare_digest(submitted.encode(), self.csrf.encode())


@dataclass
class SessionStore:
    idle_timeout: float = IDLE_TIMEOUT_S
    absolute_timeout: float = ABSOLUTE_TIMEOUT_S
    clock: callable = time.monotonic
    _sessions: dict[str, Session] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self, user: str, client: str | None = None) -> tuple[str, Session]:
        """A new session for ``user``; returns the cookie token and the session."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        session = Session(user, secrets.token_urlsafe(32), now, now, client)
        with self._lock:
            self._expire(now)
            if len(self._sessions) >= MAX_SESSIONS:  # bound memory: drop the oldest
                oldest = min(self._sessions, key=lambda k: self._sessions[k].last_seen)
                del self._sessions[oldest]
            self._sessions[_key(token)] = session
        return token, session

    def get(self, token: str | None) -> Session | None:
        if not token or len(token) > 128:
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
