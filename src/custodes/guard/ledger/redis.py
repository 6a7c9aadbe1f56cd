"""``redis://HOST:PORT/DB`` (or ``rediss://`` for TLS): the ledger shared by every gateway node.

Layout, under the prefix ``custodes:guard:``::

    i:<jti>   "<iat>|<exp>|<len(kid)>|<kid><sub>"   one per minted token, expiring at exp + 60 s
    rj:<jti>  revocation time                        revoked token
    rs:<sub>  revocation time                        subject revoked for tokens issued up to then
    rk:<kid>  revocation time                        key revoked

(Before v1.1 a record was ``t:<jti>`` without exp; such records are not read, and expire by
themselves within a day: re-run ``ledger load`` for tokens minted before an upgrade.)

A check is one ``MGET`` of four keys, one round trip; a batch is one ``MGET`` of 4·N keys.
Revocations are also published on ``custodes:guard:revocations`` so that every node's verdict
cache empties at once (:meth:`RedisLedger.watch_revocations`).
Timeouts are short (0.5 s) and there is one immediate retry after a dropped connection; past
that the ledger raises :class:`LedgerUnavailable` and the verifier fails closed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from custodes.guard.ledger.base import RETAIN, Issued, IssuedRow, Ledger, LedgerUnavailable, decide, live_records

T = TypeVar("T")

PREFIX = "custodes:guard:"
ISSUED = PREFIX + "i:"
CHANNEL = PREFIX + "revocations"
_BATCH = 5000
# Bulk recording: one EVALSHA per batch instead of one SET per token (redis-py packs each command
# in Python, which dominated `ledger load`). Standalone Redis: the keys of a batch share no slot.
_SET_ALL = """
for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[2 * i - 1], 'EXAT', ARGV[2 * i]) end
return #KEYS
"""
_RAISE_TO = """
local c = redis.call('GET', KEYS[1])
if (not c) or tonumber(c) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
"""


def _encode(sub: str, kid: str, iat: float, exp: float) -> str:
    return f"{float(iat)!r}|{float(exp)!r}|{len(kid)}|{kid}{sub}"


def _decode(value: str) -> tuple[str, str, float, float]:
    """(sub, kid, iat, exp) of a record."""
    iat, exp, size, rest = value.split("|", 3)
    n = int(size)
    return rest[n:], rest[:n], float(iat), float(exp)


class RedisLedger(Ledger):
    remote = True  # a network round trip per check: ASGI code offloads it from the event loop
    awaits_check = True  # check_async on redis.asyncio

    def __init__(self, url: str, timeout: float = 0.5) -> None:
        super().__init__()
        self.url = url
        self.timeout = timeout
        self._lazy_client: redis.Redis | None = None
        self._async_client: Any = None  # redis.asyncio.Redis, made on the loop that uses it
        self._async_loop: Any = None
        self._watchers: list[Any] = []

    @property
    def _client(self) -> redis.Redis:
        """One connection, held (redis-py serialises threads on it with a lock): measured about
        3x cheaper per call than taking one from the pool each time. Made on first use, so a
        ledger can be opened while Redis is down and starts answering when it comes back."""
        if self._lazy_client is None:
            client = redis.Redis.from_url(
                self.url, decode_responses=True, socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout, retry=Retry(NoBackoff(), 1),
                single_connection_client=True)
            self._raise_to = client.register_script(_RAISE_TO)
            self._set_all = client.register_script(_SET_ALL)
            self._lazy_client = client
        return self._lazy_client

    def _call(self, fn: Callable[[Any], T]) -> T:
        try:
            return fn(self._client)
        except redis.RedisError as exc:
            raise LedgerUnavailable(f"{_safe(self.url)}: {exc.__class__.__name__}") from None

    def ping(self) -> bool:
        return bool(self._call(lambda r: r.ping()))

    def record_many(self, tokens: Iterable[IssuedRow]) -> int:
        now, n = time.time(), 0
        keys: list[str] = []
        args: list[str | int] = []

        def flush() -> None:
            self._call(lambda r: self._set_all(keys=keys, args=args, client=r))
            keys.clear()
            args.clear()

        for jti, sub, kid, iat, exp in live_records(tokens, now):
            keys.append(ISSUED + jti)
            args.append(_encode(sub, kid, iat, exp))
            args.append(math.ceil(exp) + RETAIN)
            n += 1
            if len(keys) >= _BATCH:
                flush()
        if keys:
            flush()
        return n

    def _revoke(self, jti: str | None, sub: str | None, kid: str | None, at: float) -> None:
        def run(r: Any) -> None:
            pipe = r.pipeline(transaction=True)
            for kind, value in (("rj:", jti), ("rs:", sub), ("rk:", kid)):
                if value is not None:
                    self._raise_to(keys=[PREFIX + kind + value], args=[repr(at)], client=pipe)
            pipe.publish(CHANNEL, "1")
            pipe.execute()
        self._call(run)

    def _revocations(self, jti: str | None, sub: str | None, kid: str | None) -> tuple[bool, float | None, bool]:
        keys = [PREFIX + "rj:" + (jti or ""), PREFIX + "rs:" + (sub or ""), PREFIX + "rk:" + (kid or "")]
        j, s, k = self._call(lambda r: r.mget(keys))
        return (jti is not None and j is not None, None if sub is None or s is None else float(s),
                kid is not None and k is not None)

    @staticmethod
    def _keys(jti: str, sub: str, kid: str) -> list[str]:
        return [ISSUED + jti, PREFIX + "rj:" + jti, PREFIX + "rs:" + sub, PREFIX + "rk:" + kid]

    @staticmethod
    def _decide(values: list[Any], sub: str, kid: str, iat: float, exp: float) -> str | None:
        t, j, s, k = values
        return decide(None if t is None else _decode(t), j is not None,
                      None if s is None else float(s), k is not None, sub, kid, iat, exp)

    def check(self, jti: str, sub: str, kid: str, iat: float, exp: float) -> str | None:
        return self._decide(self._call(lambda r: r.mget(self._keys(jti, sub, kid))), sub, kid,
                            iat, exp)

    async def check_async(self, jti: str, sub: str, kid: str, iat: float, exp: float) -> str | None:
        """``check`` on redis.asyncio, for the ASGI middleware and ``serve``: requests in flight
        share a pool of connections instead of queueing on one."""
        import asyncio

        loop = asyncio.get_running_loop()
        client = self._async_client
        if client is None or self._async_loop is not loop:  # connections belong to one loop
            import redis.asyncio as aredis

            self._async_loop = loop
            client = self._async_client = aredis.Redis.from_url(
                self.url, decode_responses=True, socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout, retry=_async_retry(), max_connections=64)
        try:
            values = await client.mget(self._keys(jti, sub, kid))
        except redis.RedisError as exc:
            raise LedgerUnavailable(f"{_safe(self.url)}: {exc.__class__.__name__}") from None
        return self._decide(values, sub, kid, iat, exp)

    def check_many(self, items: list[tuple[str, str, str, float, float]]) -> list[str | None]:
        out: list[str | None] = []
        for start in range(0, len(items), _BATCH):
            chunk = items[start:start + _BATCH]
            keys = [key for jti, sub, kid, _, _ in chunk for key in self._keys(jti, sub, kid)]
            values = self._call(lambda r: r.mget(keys)) if keys else []  # noqa: B023 - called at once
            out.extend(self._decide(values[4 * i: 4 * i + 4], sub, kid, iat, exp)
                       for i, (_, sub, kid, iat, exp) in enumerate(chunk))
        return out

    def issued(self, jti: str) -> Issued | None:
        value = self._call(lambda r: r.get(ISSUED + jti))
        return None if value is None else Issued(jti, *_decode(value))

    def watch_revocations(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (in a background thread) whenever any node revokes anything."""
        def start(client: Any) -> None:
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(**{CHANNEL: lambda _message: listener()})
            self._watchers.append(pubsub.run_in_thread(sleep_time=0.5, daemon=True,
                                                       exception_handler=lost))

        def lost(_exc: BaseException, pubsub: Any, thread: Any) -> None:
            # The channel is gone (Redis restarted or closed it): forget what was cached, since
            # a revocation may be missed from now on; the cache's TTL bounds the rest.
            thread.stop()
            pubsub.close()
            listener()

        try:
            self._call(start)
        except LedgerUnavailable:
            pass  # Redis is down: no cache entry can be made meanwhile (checks fail closed)

    def close(self) -> None:
        for watcher in self._watchers:
            watcher.stop()
            watcher.join(timeout=2)  # let it leave its read before the connections go
        if self._lazy_client is not None:
            self._lazy_client.close()


def _async_retry() -> Any:
    from redis.asyncio.retry import Retry as AsyncRetry

    return AsyncRetry(NoBackoff(), 1)


def _safe(url: str) -> str:
    """The URL without a password, for messages and logs."""
    if "@" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
