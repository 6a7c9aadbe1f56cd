"""``memory:``: the embedded default, one process's dicts. Fast, and gone when the process ends.

Records expire like every backend's (``base.RETAIN`` after their exp): an expired record is
invisible at once and its memory is given back at the next ``record_many`` (a heap ordered by
exp finds them without a scan).
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Iterable

from custodes.guard.ledger.base import RETAIN, Issued, IssuedRow, Ledger, alive, decide, live_records


class MemoryLedger(Ledger):
    def __init__(self, url: str = "memory:") -> None:
        super().__init__()
        self.url = url
        self._issued: dict[str, tuple[str, str, float, float]] = {}  # jti -> (sub, kid, iat, exp)
        self._expiry: list[tuple[float, str]] = []  # (exp, jti), a heap
        self._jti: set[str] = set()
        self._sub: dict[str, float] = {}
        self._kid: set[str] = set()
        self._lock = threading.Lock()

    def record_many(self, tokens: Iterable[IssuedRow]) -> int:
        n, now = 0, time.time()
        with self._lock:
            for jti, sub, kid, iat, exp in live_records(tokens, now):
                self._issued[jti] = (sub, kid, iat, exp)
                heapq.heappush(self._expiry, (exp, jti))
                n += 1
            self._forget_expired(now)
        return n

    def _forget_expired(self, now: float) -> None:
        heap, issued = self._expiry, self._issued
        while heap and not alive(heap[0][0], now):
            exp, jti = heapq.heappop(heap)
            row = issued.get(jti)
            if row is not None and row[3] == exp:  # not recorded again with a later exp since
                del issued[jti]

    def _revoke(self, jti: str | None, sub: str | None, kid: str | None, at: float) -> None:
        with self._lock:
            if jti is not None:
                self._jti.add(jti)
            if sub is not None:
                self._sub[sub] = max(at, self._sub.get(sub, at))
            if kid is not None:
                self._kid.add(kid)

    def _revocations(self, jti: str | None, sub: str | None, kid: str | None) -> tuple[bool, float | None, bool]:
        return jti in self._jti, None if sub is None else self._sub.get(sub), kid in self._kid

    def _row(self, jti: str) -> tuple[str, str, float, float] | None:
        row = self._issued.get(jti)
        return row if row is not None and time.time() < row[3] + RETAIN else None  # alive()

    def check(self, jti: str, sub: str, kid: str, iat: float, exp: float) -> str | None:
        row = self._issued.get(jti)
        if row is not None and time.time() >= row[3] + RETAIN:  # expired: as if never issued
            row = None
        return decide(row, jti in self._jti, self._sub.get(sub), kid in self._kid, sub, kid,
                      iat, exp)

    def issued(self, jti: str) -> Issued | None:
        row = self._row(jti)
        return None if row is None else Issued(jti, *row)

    def __len__(self) -> int:
        return len(self._issued)
