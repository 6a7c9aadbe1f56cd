"""``custodes guard serve``: the auth sub-request endpoint for a reverse proxy.

``GET /auth`` (also ``/auth/<original path>`` and any method, for Envoy ext_authz's HTTP service,
which appends the original path to its ``path_prefix`` and keeps the client's method): 200 with ``X-Custodes-Subject``, ``X-Custodes-Token-Id`` and ``X-Custodes-Kid``
when the ``Authorization: Bearer`` token is accepted; 401 with ``X-Custodes-Reason`` otherwise
(nginx does not pass an auth sub-request's headers to the client unless told to).
``GET /healthz``: 200 when the ledger answers, 503 when not.

The original request is described by the headers the proxy sets: ``X-Original-Method``,
``X-Original-URI`` (the query string is dropped: the route is the path), ``X-Real-IP`` (else the
first ``X-Forwarded-For`` address, else the proxy's own address) and ``X-Request-ID``. These are
trusted, so the endpoint must listen where only the proxy reaches it (loopback by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os

from custodes.guard.asgi import bearer_token, decide, header
from custodes.guard.events import AccessLog, access_event
from custodes.guard.ledger.base import LedgerUnavailable
from custodes.guard.policy import Verifier


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value else None


def _src_ip(scope) -> str:
    real = header(scope, b"x-real-ip")
    if real:
        return real.decode("latin-1").strip()
    forwarded = header(scope, b"x-forwarded-for")
    if forwarded:
        return forwarded.decode("latin-1").split(",")[0].strip()
    client = scope.get("client")
    return client[0] if client else "0.0.0.0"


def _route(scope) -> str:
    """nginx names the original URI in X-Original-URI; Envoy's ext_authz (HTTP service, with
    ``path_prefix: /auth``) sends the original path after the prefix instead."""
    uri = _text(header(scope, b"x-original-uri"))
    if uri is None:
        path = scope.get("path", "/")
        uri = path[len("/auth"):] if path.startswith("/auth/") else path
    return uri.split("?", 1)[0] or "/"


class AuthServer:
    """The ASGI app. ``access_log`` receives every decision; ``actor_type`` is the actor type of
    an accepted token that does not carry an ``actor_type`` claim."""

    def __init__(self, verifier: Verifier, access_log: AccessLog | None = None,
                 actor_type: str = "customer"):
        self.verifier, self.access_log, self.actor_type = verifier, access_log, actor_type

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        if scope["type"] != "http":
            return
        path = scope.get("path")
        if path == "/auth" or path.startswith("/auth/"):
            return await self._auth(scope, send)
        if path == "/healthz":
            return await self._health(send)
        await _respond(send, 404, [], b"not found")

    async def _auth(self, scope, send):
        token = bearer_token(header(scope, b"authorization"))
        verdict = await decide(self.verifier, token)
        if verdict.ok:
            status = 200
            headers = [(b"x-custodes-subject", (verdict.sub or "").encode("utf-8", "replace")),
                       (b"x-custodes-token-id", (verdict.jti or "").encode("utf-8", "replace")),
                       (b"x-custodes-kid", (verdict.kid or "").encode("utf-8", "replace"))]
        else:
            status = 401
            headers = [(b"www-authenticate", b'Bearer error="invalid_token"'),
                       (b"x-custodes-reason", verdict.reason.encode())]
        await _respond(send, status, headers, b"")
        if self.access_log is not None:
            self.access_log.write(access_event(
                verdict, method=_text(header(scope, b"x-original-method")) or scope["method"],
                route=_route(scope), src_ip=_src_ip(scope), status=status,
                user_agent=_text(header(scope, b"user-agent")),
                request_id=_text(header(scope, b"x-request-id")),
                actor_type=self.actor_type, presented=token is not None))

    async def _health(self, send):
        ledger = self.verifier.ledger
        try:
            if ledger is not None and hasattr(ledger, "ping"):
                await asyncio.to_thread(ledger.ping)
        except LedgerUnavailable:
            return await _respond(send, 503, [], b"ledger unavailable")
        await _respond(send, 200, [], b"ok")

    async def _lifespan(self, receive, send):
        ticker = None
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.access_log is not None:
                    ticker = asyncio.create_task(self._tick())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if ticker is not None:
                    ticker.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await ticker
                if self.access_log is not None:
                    self.access_log.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _tick(self):
        while True:
            await asyncio.sleep(1.0)
            self.access_log.tick()


async def _respond(send, status: int, headers: list, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": headers + [(b"content-length", str(len(body)).encode()),
                                      (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})


#: the environment variable through which ``serve --workers N`` hands its configuration to workers
CONFIG_ENV = "CUSTODES_GUARD_SERVE"


def build_app(config: dict) -> AuthServer:
    """An :class:`AuthServer` from ``serve``'s configuration (keys, issuer, audience, ledger,
    max_lifetime, ledger_failure, events, actor_type, cache_ttl)."""
    from custodes.guard.cache import VerdictCache
    from custodes.guard.keys import load_jwks_file
    from custodes.guard.ledger import open_ledger
    from custodes.guard.policy import MAX_LEEWAY, Verifier

    ttl = config.get("cache_ttl") or 0
    verifier = Verifier(load_jwks_file(config["keys"]), issuer=config.get("issuer"),
                        audience=config.get("audience"), ledger=open_ledger(config["ledger"]),
                        max_lifetime=config["max_lifetime"],
                        ledger_failure=config.get("ledger_failure", "closed"),
                        cache=VerdictCache(ttl=ttl, leeway=MAX_LEEWAY) if ttl > 0 else None)
    return AuthServer(verifier, AccessLog(config["events"]), config.get("actor_type", "customer"))


def app_from_environment() -> AuthServer:
    """The app of one ``serve --workers`` worker process (a uvicorn factory)."""
    return build_app(json.loads(os.environ[CONFIG_ENV]))
