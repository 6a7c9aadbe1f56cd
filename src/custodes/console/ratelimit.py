"""Login rate limiting: too many failures for one user name, or from one client address, within
a window blocks further attempts from it until the window has passed.

Both keys matter: per name stops guessing one account from many addresses, per client stops one
address spraying many names. Successful logins do not clear the client's count (a sprayer who
owns one account must not reset its budget with it); they clear the name's.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

MAX_FAILURES = 5
WINDOW_S = 15 * 60
MAX_TRACKED = 50_000


@dataclass
class LoginLimiter:
    max_failures: int = MAX_FAILURES
    window: float = WINDOW_S
    clock: callable = time.monotonic
    _failures: dict[str, deque] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _recent(self, key: str, now: float) -> deque:
        q = self._failures.get(key)
        if q is None:
            return deque()
        while q and now - q[0] > self.window:
            q.popleft()
        if not q:
            del self._failures[key]
        return q

    def retry_after(self, user: str, client: str | None) -> int:
        """Seconds until an attempt is allowed again; 0 when it is allowed now."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for key in (f"user:{user}", f"client:{client}"):
                q = self._recent(key, now)
                if len(q) >= self.max_failures:
                    wait = max(wait, self.window - (now - q[-self.max_failures]))
        return int(wait) + 1 if wait > 0 else 0

    def failed(self, user: str, client: str | None) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) >= MAX_TRACKED:
                self._failures.clear()  # bound memory under a flood; limits restart from zero
            for key in (f"user:{user}", f"client:{client}"):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, user: str) -> None:
        with self._lock:
            self._failures.pop(f"user:{user}", None)
