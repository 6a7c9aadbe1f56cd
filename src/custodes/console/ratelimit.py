"""Login back-off: failed sign-ins slow down the one who fails, not everyone else.

The budget is per (user name, client address): after five failures for a name from one client,
that client waits 1 minute before trying that name again, then 2, 4, 8, at most 15; failures
older than 15 minutes are forgotten. A name is never locked for everyone, so nobody can lock an
admin out by failing on purpose from elsewhere. Besides, one client failing 30 times within 15
minutes, across any names (a sprayer), waits until the oldest of those falls out of the window.

The client is the real one (:mod:`custodes.console.clients`): behind a reverse proxy, name it
as trusted, or every client shares the proxy's address, and so its budget.

Failures are kept in memory, or in Redis (``console.redis``) so that every worker counts the
same ones.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from custodes.console.shared import answering, redis_client

MAX_FAILURES = 5
FIRST_DELAY_S = 60.0
WINDOW_S = 15 * 60.0
CLIENT_MAX_FAILURES = 30
MAX_TRACKED = 50_000


class MemoryFailures:
    """Failure times per key, in this process."""

    def __init__(self):
        self._failures: dict[str, deque] = {}
        self._lock = threading.Lock()

    def add(self, key: str, now: float, window: float) -> None:
        with self._lock:
            if len(self._failures) >= MAX_TRACKED:
                self._failures.clear()  # bound memory under a flood; budgets restart from zero
            self._failures.setdefault(key, deque()).append(now)

    def recent(self, key: str, now: float, window: float) -> list[float]:
        with self._lock:
            q = self._failures.get(key)
            while q and now - q[0] > window:
                q.popleft()
            if q is not None and not q:
                del self._failures[key]
            return list(q or ())

    def clear(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


class RedisFailures:
    """Failure times per key in Redis: a sorted set ``custodes:console:failures:<key>`` scored
    by time, expiring with the window. Needs the wall clock, shared by every process."""

    def __init__(self, client):
        self.client = client

    def _name(self, key: str) -> str:
        return "custodes:console:failures:" + key

    def add(self, key: str, now: float, window: float) -> None:
        with answering():
            pipe = self.client.pipeline()
            pipe.zadd(self._name(key), {f"{now!r}:{secrets.token_hex(4)}": now})
            pipe.expire(self._name(key), int(window) + 1)
            pipe.execute()

    def recent(self, key: str, now: float, window: float) -> list[float]:
        with answering():
            pipe = self.client.pipeline()
            pipe.zremrangebyscore(self._name(key), "-inf", now - window)
            pipe.zrange(self._name(key), 0, -1, withscores=True)
            _, members = pipe.execute()
        return [score for _, score in members]

    def clear(self, key: str) -> None:
        with answering():
            self.client.delete(self._name(key))


@dataclass
class LoginLimiter:
    failures: object = field(default_factory=MemoryFailures)
    max_failures: int = MAX_FAILURES
    first_delay: float = FIRST_DELAY_S
    window: float = WINDOW_S
    client_max_failures: int = CLIENT_MAX_FAILURES
    clock: callable = time.monotonic

    @staticmethod
    def _pair(user: str, client: str | None) -> str:
        return f"pair:{client}:{user}"

    def retry_after(self, user: str, client: str | None) -> int:
        """Seconds until this client may try this name again; 0 when it may now."""
        now = self.clock()
        wait = 0.0
        pair = self.failures.recent(self._pair(user, client), now, self.window)
        if len(pair) >= self.max_failures:
            delay = min(self.window, self.first_delay * 2 ** (len(pair) - self.max_failures))
            wait = pair[-1] + delay - now
        spray = self.failures.recent(f"client:{client}", now, self.window)
        if len(spray) >= self.client_max_failures:
            wait = max(wait, spray[-self.client_max_failures] + self.window - now)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, user: str, client: str | None) -> None:
        now = self.clock()
        self.failures.add(self._pair(user, client), now, self.window)
        self.failures.add(f"client:{client}", now, self.window)

    def succeeded(self, user: str, client: str | None) -> None:
        """A right password clears that name's failures from that client; the client's count
        across names stays (a sprayer who owns one account must not reset its budget with it)."""
        self.failures.clear(self._pair(user, client))


def open_limiter(url: str | None) -> LoginLimiter:
    """In memory when ``url`` is empty, else counted in Redis at ``url`` (wall-clock time)."""
    if not url:
        return LoginLimiter()
    return LoginLimiter(failures=RedisFailures(redis_client(url)), clock=time.time)
