"""A bounded cache of accepted verdicts, keyed by the exact token text.

An entry lives until the earliest of: the token's ``exp`` (plus leeway), ``ttl`` seconds after it
was verified (how late a revocation made on another gateway node may take effect here), and a
revocation made through this process's ledger (the verifier subscribes :meth:`clear` to it).
Only acceptances are cached: a refusal can turn into an acceptance (``nbf`` reached, token
recorded in the ledger), never the other way round without one of the three events above. And
only plain ``ok`` ones: an ``ok_unchecked`` verdict (the ledger was down, the guard fails open)
is never reused, so a forged token stops passing as soon as the ledger answers again.
"""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from custodes.guard.policy import Verdict


class VerdictCache:
    def __init__(self, max_entries: int = 100_000, ttl: float = 2.0, leeway: float = 0.0):
        if max_entries <= 0 or not (math.isfinite(ttl) and ttl > 0):
            raise ValueError("max_entries and ttl must be positive (and ttl a finite number)")
        self.max_entries, self.ttl, self.leeway = max_entries, ttl, leeway
        self._entries: dict[str, tuple[float, Verdict]] = {}
        #: bumped by every clear(): a verdict reached before a revocation is never stored after it
        self.generation = 0
        self._lock = threading.Lock()  # writers only; a read is one dict look-up under the GIL

    def get(self, token: str, now: float) -> Verdict | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        if now >= entry[0]:
            self._entries.pop(token, None)
            return None
        return entry[1]

    def put(self, token: str, verdict: Verdict, now: float, generation: int | None = None) -> None:
        """Store an accepted verdict; pass the ``generation`` read before verifying, so that a
        revocation that cleared the cache meanwhile makes this a no-op. Anything but a plain
        ``ok`` is not stored."""
        if verdict.reason != "ok":
            return
        until = now + self.ttl
        if verdict.exp is not None:
            until = min(until, verdict.exp + self.leeway)
        with self._lock:
            if generation is not None and generation != self.generation:
                return
            entries = self._entries
            if len(entries) >= self.max_entries:  # evict the oldest insertion (dicts keep order)
                try:
                    del entries[next(iter(entries))]
                except (StopIteration, KeyError, RuntimeError):
                    pass
            entries[token] = (until, verdict)

    def clear(self, *_args: object, **_kwargs: object) -> None:
        with self._lock:
            self.generation += 1
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
