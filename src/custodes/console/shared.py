"""The console's Redis (``console.redis`` in ``custodes.yaml``): where sessions and login
failures live when several workers or console processes must see the same ones."""

from __future__ import annotations

import contextlib

from custodes.errors import CustodesError

SETTING = "console.redis"


class StoreUnavailable(CustodesError):
    """Redis did not answer: nobody is let in until it does (the console fails closed)."""


@contextlib.contextmanager
def answering():
    """Turn any Redis error into :class:`StoreUnavailable` (one clear refusal, no traceback)."""
    import redis

    try:
        yield
    except redis.RedisError as exc:
        raise StoreUnavailable(f"the console's Redis does not answer ({type(exc).__name__})") from None


def redis_client(url: str):
    import redis

    if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
        raise CustodesError(f"{SETTING}: {url!r} is not a redis:// URL")
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=2, socket_connect_timeout=2)
