"""Issuance ledgers: ``open_ledger(url)`` gives one, whatever the backend.

URLs (CONTRACT.md §5): ``memory:``, ``sqlite:///relative/path``, ``sqlite:////absolute/path``,
``redis://HOST:PORT/DB`` (also ``rediss://`` for TLS, and ``redis://:PASSWORD@HOST:PORT/DB``).
"""

from __future__ import annotations

from custodes.errors import UsageError
from custodes.guard.ledger.base import Issued, Ledger, LedgerUnavailable

__all__ = ["Issued", "Ledger", "LedgerUnavailable", "open_ledger"]


def open_ledger(url: str, create: bool = True) -> Ledger:
    """Open the ledger a URL names. Backends are imported only when asked for.

    ``create=False`` refuses a SQLite file that does not exist yet (CustodesError) instead of
    creating an empty ledger: what every command but ``ledger load`` (and ``revoke --create``)
    asks, so that a mistyped path is an error, not a new, empty ledger."""
    if url in ("memory:", "memory://"):
        from custodes.guard.ledger.memory import MemoryLedger

        return MemoryLedger(url)
    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        from custodes.guard.ledger.sqlite import SQLiteLedger

        return SQLiteLedger(url[len("sqlite:///"):], url, create=create)
    if url.startswith(("redis://", "rediss://")):
        from custodes.guard.ledger.redis import RedisLedger

        return RedisLedger(url)
    raise UsageError(f"unknown ledger URL {url.split('@')[-1]!r}: expected memory:, "
                     "sqlite:///relative/path, sqlite:////absolute/path or redis://HOST:PORT/DB")
