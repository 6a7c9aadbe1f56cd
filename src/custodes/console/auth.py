"""Login state for each request: who is asking, with which role, and whether they may.

- Sessions are server-side (:mod:`sessions`); the cookie is HttpOnly, SameSite=Strict, Path=/,
  and Secure with the ``__Host-`` prefix when the console is served over https.
- The role is read from the user file on every request, so a demoted or removed user loses
  access at once, and a session opened before the user's password was reset ends.
- Every POST carries a CSRF token compared in constant time, and must come from the console's own
  origin when the browser says where it comes from (Origin / Sec-Fetch-Site).
- Refusals are audited like views.
"""

from __future__ import annotations

import functools
import hmac
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from custodes.console.clients import client_address
from custodes.console.forms import FormError, read_form
from custodes.console.roles import can
from custodes.console.sessions import Session
from custodes.console.users import User

SESSION_COOKIE = "custodes_session"
SECURE_SESSION_COOKIE = "__Host-custodes_session"
LOGIN_COOKIE = "custodes_login"
SECURE_LOGIN_COOKIE = "__Host-custodes_login"


@dataclass(frozen=True)
class Principal:
    user: User
    session: Session
    token: str

    @property
    def role(self) -> str:
        return self.user.role

    def can(self, permission: str) -> bool:
        return can(self.user.role, permission)


def client_of(request: Request) -> str | None:
    """The client's address: the peer's, or what a trusted proxy says it saw (see clients)."""
    peer = request.client.host if request.client else None
    proxies = request.app.state.console.trusted_proxies
    return client_address(peer, request.headers.getlist("x-forwarded-for"), proxies) if proxies else peer


def cookie_names(console) -> tuple[str, str]:
    return (SECURE_SESSION_COOKIE, SECURE_LOGIN_COOKIE) if console.https else (SESSION_COOKIE, LOGIN_COOKIE)


def set_cookie(response: Response, console, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="strict",
                        secure=console.https)


def current(request: Request) -> Principal | None:
    console = request.app.state.console
    token = request.cookies.get(cookie_names(console)[0])
    session = console.sessions.get(token)
    if session is None:
        return None
    user = console.users.get(session.user)
    if user is None or not hmac.compare_digest(user.stamp, session.stamp):  # removed, or a new password
        console.sessions.end(token)
        return None
    return Principal(user, session, token)


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another site (defence beside CSRF)."""
    site = request.headers.get("sec-fetch-site")
    if site and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin and origin != "null":
        parsed = urlsplit(origin)
        return parsed.netloc == request.headers.get("host", "") and parsed.scheme == request.url.scheme
    return origin != "null"


def safe_next(target: str | None) -> str:
    """Only a local path may follow a login (no open redirect to another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/incidents"
    return target


def audit(request: Request, principal: Principal | None, action: str, target: str = "",
          **detail) -> None:
    request.app.state.console.audit.record(
        user=principal.user.name if principal else None, role=principal.role if principal else None,
        action=action, target=target, detail=detail, client=client_of(request))


async def checked_form(request: Request, principal: Principal, target: str | None = None):
    """Read a signed-in user's POST form, refusing it unless it is same-origin and carries the
    session's CSRF token. Returns ``(data, None)``, or ``(None, response)`` to send back."""
    try:
        data = await read_form(request)
    except FormError as exc:
        return None, Response(str(exc), status_code=400, media_type="text/plain")
    if not (same_origin(request) and principal.session.csrf_ok(data.get("csrf"))):
        audit(request, principal, "csrf_refused", target or request.url.path)
        return None, Response("CSRF token missing or wrong", status_code=403, media_type="text/plain")
    return data, None


def requires(permission: str):
    """Decorate an endpoint ``fn(request, principal)``: log in first, then hold ``permission``."""

    def wrap(fn):
        @functools.wraps(fn)
        async def endpoint(request: Request) -> Response:
            principal = current(request)
            if principal is None:
                if request.method == "GET":
                    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                    return RedirectResponse(f"/login?next={quote(path, safe='')}", status_code=303)
                return Response("login required", status_code=401, media_type="text/plain")
            if not principal.can(permission):
                audit(request, principal, "denied", request.url.path, permission=permission)
                from custodes.console.render import page

                return page(request, "error.html", principal, status=403, title="Not allowed",
                            message=f"Your role ({principal.role}) does not allow this page.")
            return await fn(request, principal)

        return endpoint

    return wrap
