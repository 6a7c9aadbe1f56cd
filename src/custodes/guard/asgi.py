"""An ASGI middleware that puts the guard in front of a Starlette or FastAPI app.

    app.add_middleware(GuardMiddleware, verifier=verifier, access_log=AccessLog(dir))

A request without an acceptable ``Authorization: Bearer`` token gets 401 (RFC 6750
``WWW-Authenticate: Bearer error="invalid_token"``; the reason is logged, never told to the
client). An accepted request reaches the app with its :class:`~custodes.guard.policy.Verdict` in
``request.state.guard`` (``scope["state"]["guard"]``). Every decision becomes an access event
with the app's final status and response size.

A ledger that costs a network round trip (Redis) is awaited (redis.asyncio), so one slow look-up
never stalls the other requests and many look-ups are in flight at once; cached verdicts are
answered at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from custodes.guard.events import AccessLog
from custodes.guard.policy import Verdict, Verifier

_UNAUTHORIZED_HEADERS = [(b"content-type", b"application/json"),
                         (b"www-authenticate", b'Bearer error="invalid_token"'),
                         (b"cache-control", b"no-store")]
_UNAUTHORIZED_BODY = b'{"error":"invalid_token"}'


def bearer_token(authorization: bytes | str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, or None."""
    if not authorization:
        return None
    if isinstance(authorization, bytes):
        try:
            authorization = authorization.decode("latin-1")
        except UnicodeDecodeError:  # latin-1 decodes anything; kept for clarity
            return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


async def decide(verifier: Verifier, token: str | None) -> Verdict:
    """Verify on the loop; a network ledger's look-up is awaited (``check_async``), or, for a
    network ledger without one, the whole verification moves to a worker thread."""
    ledger = verifier.ledger
    if ledger is not None and ledger.awaits_check:
        return await verifier.verify_async(token)
    if token and ledger is not None and ledger.remote:
        cache = verifier.cache
        if cache is None or cache.get(token, time.time()) is None:
            return await asyncio.to_thread(verifier.verify, token)
    return verifier.verify(token)


async def send_unauthorized(send: Send, extra_headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    await send({"type": "http.response.start", "status": 401,
                "headers": _UNAUTHORIZED_HEADERS + list(extra_headers)})
    await send({"type": "http.response.body", "body": _UNAUTHORIZED_BODY})


class GuardMiddleware:
    def __init__(self, app: ASGIApp, verifier: Verifier, access_log: AccessLog | None = None,
                 exempt_paths: Iterable[str] = (), actor_type: str = "customer") -> None:
        self.app, self.verifier, self.access_log = app, verifier, access_log
        self.exempt_paths = frozenset(exempt_paths)
        self.actor_type = actor_type

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket") or scope.get("path") in self.exempt_paths:
            return await self.app(scope, receive, send)
        token = bearer_token(header(scope, b"authorization"))
        verdict = await decide(self.verifier, token)
        if kind == "websocket":
            return await self._websocket(scope, receive, send, verdict, token is not None)
        if not verdict.ok:
            await send_unauthorized(send)
            self._log(scope, verdict, 401, len(_UNAUTHORIZED_BODY), token is not None)
            return
        scope = dict(scope)
        scope["state"] = {**scope.get("state", {}), "guard": verdict}
        outcome = {"status": 500, "bytes": 0}

        async def watching_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome["status"] = message["status"]
            elif message["type"] == "http.response.body":
                outcome["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, watching_send)
        finally:
            self._log(scope, verdict, outcome["status"], outcome["bytes"], True)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send, verdict: Verdict,
                         presented: bool) -> None:
        """A WebSocket handshake is guarded like a request: refused before it is accepted
        (the server answers the handshake with 403)."""
        if not verdict.ok:
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008})
            self._log(scope, verdict, 403, 0, presented)
            return
        scope = dict(scope)
        scope["state"] = {**scope.get("state", {}), "guard": verdict}
        self._log(scope, verdict, 101, 0, presented)
        await self.app(scope, receive, send)

    def _log(self, scope: Scope, verdict: Verdict, status: int, bytes_out: int, presented: bool) -> None:
        """One event per decision; never raises (AccessLog.decision does not)."""
        if self.access_log is None:
            return
        client = scope.get("client") or ("0.0.0.0", 0)
        ua = header(scope, b"user-agent")
        rid = header(scope, b"x-request-id")
        self.access_log.decision(
            verdict, method=scope.get("method", "GET"), route=scope.get("path", "/"),
            src_ip=client[0], status=status, bytes_out=bytes_out,
            user_agent=ua.decode("latin-1") if ua else None,
            request_id=rid.decode("latin-1") if rid else None,
            actor_type=self.actor_type, presented=presented)
