"""The issuance ledger's one interface, and the decision every backend shares.

A ledger holds what the authorization server minted (``jti`` -> ``sub``, ``kid``, ``iat``,
``exp``) and what was revoked since. A token passes only as it was issued: the same ``sub``,
``kid``, ``iat`` and ``exp`` (CONTRACT.md §5, v1.1), so a key holder cannot re-sign a (jti, sub)
pair seen in the logs with a fresh lifetime. Times compare as whole epoch seconds, each rounded
down: an issuance row's ``1760000000.9`` matches a token's ``1760000000`` (authorization servers
put the floor of their clock in ``iat``), and the sub-second part of either side never matters.

A record expires at its ``exp`` plus :data:`RETAIN` (the verifier's largest leeway), in every
backend: after that no verifier would accept the token anyway, so nothing is kept for it.

Revocation semantics:

- by ``jti``: that token, for good;
- by ``kid``: every token signed by that key, for good (a leaked key forges any ``iat``);
- by ``sub``: every token of that subject *issued* (per the ledger's ``iat``, never the token's)
  at or before the revocation; tokens minted after it, at a new login, are accepted again.

Backends raise :class:`LedgerUnavailable` when they cannot answer; the verifier then fails closed.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from math import floor
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from typing import ClassVar, NamedTuple, Self

from custodes.errors import CustodesError


#: seconds a record outlives its token's exp: the verifier's largest leeway (policy.MAX_LEEWAY)
RETAIN = 60


#: an issued token as (jti, sub, kid, iat, exp): an :class:`Issued`, or a plain tuple
IssuedRow = tuple[str, str, str, float, float]


def alive(exp: float, now: float) -> bool:
    """Whether an issuance record expiring at ``exp`` is still kept at ``now``."""
    return now < exp + RETAIN


def live_records(tokens: Iterable[IssuedRow], now: float) -> Iterator[IssuedRow]:
    """The records of ``tokens`` worth keeping at ``now``, as plain tuples: expired ones are
    dropped, and a time that is not a finite number is refused (it would never expire)."""
    for jti, sub, kid, iat, exp in tokens:
        if not (math.isfinite(iat) and math.isfinite(exp)):
            raise ValueError(f"issued token {jti!r}: iat and exp must be finite epoch seconds")
        if alive(exp, now):
            yield jti, sub, kid, iat, exp


class LedgerUnavailable(CustodesError):
    """The ledger could not be reached or read; nothing is known about the token. A
    CustodesError, so a command that meets it (revoke, offboard --apply) exits 1 with one line."""


class Issued(NamedTuple):  # a tuple: millions are built by `ledger load`, cheaply
    jti: str
    sub: str
    kid: str
    iat: float
    exp: float


#: a time as callers give it: epoch seconds or a datetime
Moment = float | dt.datetime


def epoch(value: object, name: str = "time") -> float:
    """Epoch seconds from a number or an aware datetime (a naive one is taken as UTC)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return float(value.timestamp())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"{name} must be epoch seconds or a datetime, not {type(value).__name__}")


def decide(issued: tuple[str, str, float, float] | None, jti_revoked: bool,
           sub_revoked_at: float | None, kid_revoked: bool, sub: str, kid: str, iat: float,
           exp: float) -> str | None:
    """The ledger's verdict on one token, from what a backend fetched: a reason, or None if fine.

    ``issued`` is (sub, kid, iat, exp) as recorded, or None when the jti was never issued (or
    its record expired); ``sub``, ``kid``, ``iat``, ``exp`` are the token's.
    """
    if issued is None:
        return "not_issued"
    issued_sub, issued_kid, issued_iat, issued_exp = issued
    if issued_sub != sub:
        return "sub_mismatch"
    if issued_kid != kid:
        return "kid_mismatch"
    # Whole seconds, each rounded down (see the module's docstring); equal values first, the
    # common case, since this runs on every request.
    if issued_iat != iat and floor(issued_iat) != floor(iat):
        return "iat_mismatch"
    if issued_exp != exp and floor(issued_exp) != floor(exp):
        return "exp_mismatch"
    if jti_revoked:
        return "revoked_jti"
    if kid_revoked:
        return "revoked_kid"
    if sub_revoked_at is not None and issued_iat <= sub_revoked_at:
        return "revoked_sub"
    return None


class Ledger(ABC):
    """What every backend offers. ``url`` is the URL it was opened with, for messages."""

    url: str = ""
    #: True when a check costs a network round trip (ASGI code keeps it off the event loop).
    remote: ClassVar[bool] = False
    #: True when :meth:`check_async` awaits its look-up without blocking the event loop (Redis's
    #: asyncio client); the verifier then takes its async path, else the blocking ``check``.
    awaits_check: ClassVar[bool] = False

    def __init__(self) -> None:
        self._revoke_listeners: list[Callable[[], None]] = []

    # Recording what the authorization server minted ----------------------------------------
    def record(self, jti: str, sub: str, kid: str, exp: Moment, iat: Moment | None = None) -> None:
        """Record one minted token (``exp``/``iat``: epoch seconds or datetimes; ``iat`` defaults
        to now)."""
        self.record_many([Issued(jti, sub, kid, time.time() if iat is None else epoch(iat, "iat"),
                                 epoch(exp, "exp"))])

    @abstractmethod
    def record_many(self, tokens: Iterable[IssuedRow]) -> int:
        """Record many minted tokens at once: ``Issued`` records or plain ``(jti, sub, kid, iat,
        exp)`` tuples. Returns how many were recorded: a token already past its ``exp`` plus
        :data:`RETAIN` is not."""

    # Revocation --------------------------------------------------------------------------
    def revoke(self, jti: str | None = None, sub: str | None = None, kid: str | None = None,
               at: Moment | None = None) -> None:
        """Revoke a token, a subject's tokens or a key's tokens (any combination, at least one)."""
        if jti is None and sub is None and kid is None:
            raise ValueError("revoke needs a jti, a sub or a kid")
        when = time.time() if at is None else epoch(at, "at")
        self._revoke(jti, sub, kid, when)
        for listener in self._revoke_listeners:
            listener()

    @abstractmethod
    def _revoke(self, jti: str | None, sub: str | None, kid: str | None, at: float) -> None: ...

    def on_revoke(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every revocation made through this object (cache invalidation)."""
        self._revoke_listeners.append(listener)

    def is_revoked(self, jti: str | None = None, sub: str | None = None, kid: str | None = None,
                   iat: Moment | None = None) -> bool:
        """True when the jti or kid was revoked, or the sub was revoked at or after ``iat``
        (any revocation of the sub when ``iat`` is None)."""
        jti_revoked, sub_revoked_at, kid_revoked = self._revocations(jti, sub, kid)
        if jti_revoked or kid_revoked:
            return True
        if sub_revoked_at is None:
            return False
        return iat is None or epoch(iat, "iat") <= sub_revoked_at

    @abstractmethod
    def _revocations(self, jti: str | None, sub: str | None, kid: str | None) -> tuple[bool, float | None, bool]:
        """(jti revoked, sub revoked at, kid revoked); None arguments give False/None."""

    # The verifier's question -------------------------------------------------------------
    @abstractmethod
    def check(self, jti: str, sub: str, kid: str, iat: float, exp: float) -> str | None:
        """Was this token issued exactly as presented (``sub``, ``kid``, ``iat``, ``exp`` are the
        token's claims) and is it not revoked? None if so, else a reason."""

    async def check_async(self, jti: str, sub: str, kid: str, iat: float, exp: float) -> str | None:
        """``check`` for an event loop. This default answers at once, blocking the loop for the
        look-up; a backend that can wait without blocking overrides it and sets ``awaits_check``."""
        return self.check(jti, sub, kid, iat, exp)

    def watch_revocations(self, listener: Callable[[], None]) -> None:  # noqa: B027 - a default
        """Call ``listener`` whenever another process sharing this ledger revokes anything. A
        ledger no other process writes has nothing to watch (``on_revoke`` covers this one)."""

    def check_many(self, items: list[tuple[str, str, str, float, float]]) -> list[str | None]:
        """``check`` for many ``(jti, sub, kid, iat, exp)``; network backends batch it."""
        return [self.check(*item) for item in items]

    def issued(self, jti: str) -> Issued | None:
        """The issuance record of a jti, or None."""
        raise NotImplementedError

    def close(self) -> None:  # noqa: B027 - nothing to release by default
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
