"""``/metrics`` of ``custodes serve`` (Prometheus text format): requests by method and status.

    custodes_console_requests_total{method, status}   counter: requests answered (this process)

Only a client on the console's own machine gets it (the real client, through trusted proxies:
a request relayed by a reverse proxy from elsewhere is answered 404): request counts tell an
outsider nothing, but the endpoint needs no login, so it stays on the box. Incident and alert
metrics are ``custodes watch``'s.
"""

from __future__ import annotations

import ipaddress

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from custodes.console.auth import client_of


class RequestMetrics:
    """ASGI middleware counting every HTTP answer by method and status."""

    def __init__(self, app, registry: CollectorRegistry):
        self.app = app
        self.requests = Counter("custodes_console_requests", "Requests answered, by method and status",
                                ["method", "status"], registry=registry)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        method = scope["method"] if scope["method"] in _METHODS else "other"

        async def counted(message):
            if message["type"] == "http.response.start":
                self.requests.labels(method, str(message["status"])).inc()
            await send(message)

        await self.app(scope, receive, counted)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"})  # bounded labels


def endpoint(request: Request) -> Response:
    client = client_of(request)
    try:
        local = client is not None and ipaddress.ip_address(client).is_loopback
    except ValueError:
        local = False
    if not local:
        return PlainTextResponse("Not Found", status_code=404)
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
