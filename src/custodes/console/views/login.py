"""Login and logout.

The login form is protected against login CSRF with a double-submit token (a random value in an
HttpOnly cookie and in the form); failures back off per (user name, client) (see ratelimit), and
are audited without the password (and without the name when it is not a known user, so a password
typed in the name field does not end up in the trail). After a failure the form shows the name
typed, whether or not such a user exists: the page must not tell the two apart.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from custodes.console import auth
from custodes.console.forms import FormError, read_form
from custodes.console.render import page
from custodes.text import plural

MAX_NAME = 64


def _form_page(request: Request, status: int = 200, error: str | None = None,
               name: str = "") -> Response:
    console = request.app.state.console
    token = secrets.token_urlsafe(24)
    response = page(request, "login.html", None, status=status, title="Sign in", error=error,
                    login_token=token, name=name,
                    next=auth.safe_next(request.query_params.get("next")))
    auth.set_cookie(response, console, auth.cookie_names(console)[1], token, max_age=1800)
    return response


async def form(request: Request) -> Response:
    if auth.current(request) is not None:
        return RedirectResponse(auth.safe_next(request.query_params.get("next")), status_code=303)
    return _form_page(request)


async def submit(request: Request) -> Response:
    console = request.app.state.console
    client = auth.client_of(request)
    try:
        data = await read_form(request)
    except FormError as exc:
        return Response(str(exc), status_code=400, media_type="text/plain")
    expected = request.cookies.get(auth.cookie_names(console)[1], "")
    submitted = data.get("login_token", "")
    if not (auth.same_origin(request) and expected and submitted
            and hmac.compare_digest(expected.encode(), submitted.encode())):
        console.audit.record(user=None, role=None, action="login.csrf_refused", client=client)
        return _form_page(request, 403, "The form expired or did not come from this console. Try again.")
    name = data.get("username", "").strip().lower()[:MAX_NAME]
    password = data.get("password", "")
    known = console.users.get(name) is not None
    wait = console.limiter.retry_after(name, client)
    if wait:
        console.audit.record(user=name if known else None, role=None, action="login.blocked",
                             client=client, detail={"retry_after_s": wait})
        response = _form_page(request, 429,
                              f"Too many failed sign-ins. Try again in {plural(wait // 60 + 1, 'minute')}.")
        response.headers["Retry-After"] = str(wait)
        return response
    user = console.users.authenticate(name, password)
    if user is None:
        console.limiter.failed(name, client)
        console.audit.record(user=name if known else None, role=None, action="login.failed",
                             client=client, detail={"known_user": known})
        return _form_page(request, 401, "Wrong user name or password.", name=name)
    console.limiter.succeeded(name, client)
    token, _session = console.sessions.create(user.name, client, stamp=user.stamp)
    console.audit.record(user=user.name, role=user.role, action="login", client=client)
    response = RedirectResponse(auth.safe_next(data.get("next")), status_code=303)
    auth.set_cookie(response, console, auth.cookie_names(console)[0], token)
    response.delete_cookie(auth.cookie_names(console)[1], path="/", secure=console.https,
                           httponly=True, samesite="strict")
    return response


async def logout(request: Request) -> Response:
    console = request.app.state.console
    principal = auth.current(request)
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    data, refused = await auth.checked_form(request, principal, "/logout")
    if refused is not None:
        return refused
    console.sessions.end(principal.token)
    auth.audit(request, principal, "logout")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.cookie_names(console)[0], path="/", secure=console.https,
                           httponly=True, samesite="strict")
    return response
