"""Security headers on every response (pure ASGI middleware, so streaming responses get them too).

No script runs in the console at all (CSP has no script-src, so ``default-src 'none'`` forbids
every script, inline or not); styles come only from the console's own CSS file; no page may be
framed; no page holding personal data is cached anywhere; no URL leaks to another site through
Referer (same-origin, not no-referrer: with no-referrer browsers send ``Origin: null`` on form
posts, which would defeat the origin check of :func:`auth.same_origin`).
"""

from __future__ import annotations

CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")

BASE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
)
NO_STORE = (b"cache-control", b"no-store, max-age=0")
STATIC_CACHE = (b"cache-control", b"public, max-age=3600")
HSTS = (b"strict-transport-security", b"max-age=31536000")


class SecurityHeaders:
    def __init__(self, app, https: bool = False, static_prefix: str = "/static/"):
        self.app = app
        self.https = https
        self.static_prefix = static_prefix

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        static = scope["path"].startswith(self.static_prefix) or scope["path"] == "/favicon.ico"

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                ours = {name for name, _ in BASE_HEADERS} | {b"cache-control", b"pragma"}
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in ours]
                headers.extend(BASE_HEADERS)
                # Only the stylesheet may be cached; every page may hold personal data.
                headers.append(STATIC_CACHE if static else NO_STORE)
                if not static:
                    headers.append((b"pragma", b"no-cache"))
                if self.https:
                    headers.append(HSTS)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
