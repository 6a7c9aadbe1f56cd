"""``memory:``: the embedded default, one process's dicts. Fast, and gone when the process ends."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from custodes.guard.ledger.base import Issued, Ledger, decide


class MemoryLedger(Ledger):
    def __init__(self, url: str = "memory:") -> None:
        super().__init__()
        self.url = url
        self._issued: dict[str, tuple[str, str, float, float]] = {}  # jti -> (sub, kid, iat, exp)
        self._jti: set[str] = set()
        self._sub: dict[str, float] = {}
        self._kid: set[str] = set()
        self._lock = threading.Lock()

    def record_many(self, tokens: Iterable[Issued]) -> int:
        n = 0
        with self._lock:
            for jti, sub, kid, iat, exp in tokens:
                self._issued[jti] = (sub, kid, iat, exp)
                n += 1
        return n

    def _revoke(self, jti, sub, kid, at: float) -> None:
        with self._lock:
            if jti is not None:
                self._jti.add(jti)
            if sub is not None:
                self._sub[sub] = max(at, self._sub.get(sub, at))
            if kid is not None:
                self._kid.add(kid)

    def _revocations(self, jti, sub, kid):
        return jti in self._jti, self._sub.get(sub), kid in self._kid

    def check(self, jti: str, sub: str, kid: str) -> str | None:
        row = self._issued.get(jti)
        return decide(None if row is None else row[:3], jti in self._jti, self._sub.get(sub),
                      kid in self._kid, sub, kid)

    def issued(self, jti: str) -> Issued | None:
        row = self._issued.get(jti)
        return None if row is None else Issued(jti, *row)

    def __len__(self) -> int:
        return len(self._issued)
