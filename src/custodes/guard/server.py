"""``custodes guard serve``: the auth sub-request endpoint for a reverse proxy.

``GET /auth`` (also ``/auth/<original path>`` and any method, for Envoy ext_authz's HTTP service,
which appends the original path to its ``path_prefix`` and keeps the client's method): 200 with ``X-Custodes-Subject``, ``X-Custodes-Token-Id`` and ``X-Custodes-Kid``
when the ``Authorization: Bearer`` token is accepted; 401 with ``X-Custodes-Reason`` otherwise
(nginx does not pass an auth sub-request's headers to the client unless told to).
``GET /healthz``: 200 when the ledger answers, 503 when not. ``GET /metrics``: decisions by
reason and ledger latency (:mod:`custodes.guard.metrics`).

The original request is described by the headers the proxy sets: ``X-Original-URI`` and
``X-Original-Method`` (nginx), or ``X-Forwarded-Uri`` and ``X-Forwarded-Method`` (Traefik's and
Caddy's forward auth); the query string is dropped: the route is the path. ``route_header``
names the one to read (``auto``: X-Original-URI, else X-Forwarded-Uri, else the path after
``/auth``). Then ``X-Real-IP`` (else the first ``X-Forwarded-For`` address, else the proxy's
own address) and ``X-Request-ID``. These are trusted, so the endpoint must listen where only the
proxy reaches it (loopback by default), and the proxy must overwrite them.

Each decision's access event is written before the answer is sent, so no answer leaves without
its event, and nothing in a token can keep it from being written (:mod:`custodes.guard.events`).
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.types import Receive, Scope, Send

from custodes.guard.asgi import bearer_token, decide, header
from custodes.guard.events import AccessLog
from custodes.guard.ledger.base import LedgerUnavailable
from custodes.guard.metrics import GuardMetrics
from custodes.guard.policy import Verifier
from custodes.guard.routeheaders import ROUTE_HEADERS


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value else None


def _src_ip(scope: Scope) -> str:
    real = header(scope, b"x-real-ip")
    if real:
        return real.decode("latin-1").strip()
    forwarded = header(scope, b"x-forwarded-for")
    if forwarded:
        return forwarded.decode("latin-1").split(",")[0].strip()
    client = scope.get("client")
    return str(client[0]) if client else "0.0.0.0"




def _original_request(scope: Scope, route_header: str) -> tuple[str, str]:
    """The original request's (method, route). nginx names it in X-Original-URI, Traefik and
    Caddy in X-Forwarded-Uri; Envoy's ext_authz (HTTP service, with ``path_prefix: /auth``)
    sends the original path after the prefix, with the original method."""
    for uri_header, method_header in ROUTE_HEADERS[route_header]:
        uri = _text(header(scope, uri_header))
        if uri is not None:
            method = _text(header(scope, method_header)) or scope["method"]
            break
    else:
        path = scope.get("path", "/")
        uri = path[len("/auth"):] if path.startswith("/auth/") else path
        method = _text(header(scope, b"x-original-method")) or scope["method"]
    return method, uri.split("?", 1)[0] or "/"


class AuthServer:
    """The ASGI app. ``access_log`` receives every decision; ``actor_type`` is the actor type of
    an accepted token that does not carry an ``actor_type`` claim."""

    def __init__(self, verifier: Verifier, access_log: AccessLog | None = None,
                 actor_type: str = "customer", route_header: str = "auto") -> None:
        if route_header not in ROUTE_HEADERS:
            raise ValueError(f"route_header is one of {', '.join(ROUTE_HEADERS)}")
        self.verifier, self.access_log, self.actor_type = verifier, access_log, actor_type
        self.route_header = route_header
        self.metrics = GuardMetrics()
        verifier.ledger = self.metrics.timed(verifier.ledger)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        if scope["type"] != "http":
            return
        path = str(scope.get("path", ""))
        if path == "/auth" or path.startswith("/auth/"):
            return await self._auth(scope, send)
        if path == "/healthz":
            return await self._health(send)
        if path == "/metrics":
            return await _respond(send, 200, [(b"content-type", CONTENT_TYPE_LATEST.encode())],
                                  self.metrics.text())
        await _respond(send, 404, [], b"not found")

    async def _auth(self, scope: Scope, send: Send) -> None:
        token = bearer_token(header(scope, b"authorization"))
        verdict = await decide(self.verifier, token)
        self.metrics.decisions.labels(verdict.reason).inc()
        if verdict.ok:
            status = 200
            headers = [(b"x-custodes-subject", (verdict.sub or "").encode("utf-8", "replace")),
                       (b"x-custodes-token-id", (verdict.jti or "").encode("utf-8", "replace")),
                       (b"x-custodes-kid", (verdict.kid or "").encode("utf-8", "replace"))]
        else:
            status = 401
            headers = [(b"www-authenticate", b'Bearer error="invalid_token"'),
                       (b"x-custodes-reason", verdict.reason.encode())]
        if self.access_log is not None:  # first: no answer leaves without its event
            method, route = _original_request(scope, self.route_header)
            self.access_log.decision(
                verdict, method=method, route=route, src_ip=_src_ip(scope), status=status,
                user_agent=_text(header(scope, b"user-agent")),
                request_id=_text(header(scope, b"x-request-id")),
                actor_type=self.actor_type, presented=token is not None)
        await _respond(send, status, headers, b"")

    async def _health(self, send: Send) -> None:
        ledger = self.verifier.ledger
        try:
            if ledger is not None and hasattr(ledger, "ping"):
                await asyncio.to_thread(ledger.ping)
        except LedgerUnavailable:
            return await _respond(send, 503, [], b"ledger unavailable")
        if self.access_log is not None and not self.access_log.healthy:
            return await _respond(send, 503, [], b"access events cannot be written")
        await _respond(send, 200, [], b"ok")

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.access_log is not None:
                    self.access_log.close()  # the current file is finished: ingestible
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _respond(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": headers + [(b"content-length", str(len(body)).encode()),
                                      (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})


#: the environment variable through which ``serve --workers N`` hands its configuration to workers
CONFIG_ENV = "CUSTODES_GUARD_SERVE"


def build_app(config: dict[str, Any]) -> AuthServer:
    """An :class:`AuthServer` from ``serve``'s configuration (keys, issuer, audience, ledger,
    max_lifetime, ledger_failure, events, actor_type, cache_ttl, anonymous_per_second,
    route_header). The ledger must exist: serving from a new, empty one would refuse every
    token while looking healthy."""
    from custodes.guard.cache import VerdictCache
    from custodes.guard.keys import load_jwks_file
    from custodes.guard.ledger import open_ledger
    from custodes.guard.policy import MAX_LEEWAY, Verifier

    ttl = config.get("cache_ttl") or 0
    keys = load_jwks_file(config["keys"])
    access_log = AccessLog(config["events"],
                           anonymous_per_second=config.get("anonymous_per_second", 100))
    try:
        verifier = Verifier(keys, issuer=config.get("issuer"), audience=config.get("audience"),
                            ledger=open_ledger(config["ledger"], create=False),
                            max_lifetime=config["max_lifetime"],
                            ledger_failure=config.get("ledger_failure", "closed"),
                            cache=VerdictCache(ttl=ttl, leeway=MAX_LEEWAY) if ttl > 0 else None)
    except BaseException:
        access_log.close()
        raise
    return AuthServer(verifier, access_log, config.get("actor_type", "customer"),
                      config.get("route_header", "auto"))


def app_from_environment() -> AuthServer:
    """The app of one ``serve --workers`` worker process (a uvicorn factory)."""
    return build_app(json.loads(os.environ[CONFIG_ENV]))
