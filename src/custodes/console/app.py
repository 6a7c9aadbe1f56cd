"""The console's Starlette application factory.

``create_app(workspace)`` wires users, sessions, the login limiter, the audit trail and the data
sources into one :class:`Console`, kept on ``app.state.console`` for the views.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from custodes.console.audit import AuditTrail
from custodes.console.headers import SecurityHeaders
from custodes.console.ratelimit import LoginLimiter
from custodes.console.render import make_environment
from custodes.console.sessions import SessionStore
from custodes.console.sources import Sources
from custodes.console.users import UserStore, console_dir
from custodes.console.views import audit, findings, incident, incidents, lake, login, posture, scope, triage
from custodes.workspace import Workspace

STATIC = Path(__file__).parent / "static"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


@dataclass
class Console:
    workspace: Workspace
    users: UserStore
    audit: AuditTrail
    sources: Sources
    https: bool = False
    sessions: SessionStore = field(default_factory=SessionStore)
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    templates: jinja2.Environment = field(default_factory=make_environment)


def _stylesheet(_request: Request) -> Response:
    return Response((STATIC / "console.css").read_bytes(), media_type="text/css")


#: the console's icon, kept here rather than as a file so packaging needs no extra data pattern
FAVICON = (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#111827"/><path d="M8 2.5 13.5 8 8 13.5 2.5 8Z" fill="#f04438"/></svg>')


def _favicon(_request: Request) -> Response:
    return Response(FAVICON, media_type="image/svg+xml")


def _home(_request: Request) -> Response:
    return RedirectResponse("/incidents", status_code=303)


def _health(_request: Request) -> Response:
    return PlainTextResponse("ok")


ROUTES = [
    Route("/", _home),
    Route("/healthz", _health),
    Route("/static/console.css", _stylesheet),
    Route("/static/favicon.svg", _favicon),
    Route("/favicon.ico", _favicon),
    Route("/login", login.form, methods=["GET"]),
    Route("/login", login.submit, methods=["POST"]),
    Route("/logout", login.logout, methods=["POST"]),
    Route("/incidents", incidents.index),
    Route("/incidents/{incident_id:str}", incident.detail),
    Route("/incidents/{incident_id:str}/accounts.csv", incident.export_accounts, methods=["POST"]),
    Route("/incidents/{incident_id:str}/notification-list.csv", incident.export_contacts, methods=["POST"]),
    Route("/incidents/{incident_id:str}/triage", triage.act, methods=["POST"]),
    Route("/incidents/{incident_id:str}/suppress", triage.suppress, methods=["POST"]),
    Route("/incidents/{incident_id:str}/suppressions/{suppression_id:str}/lift", triage.lift, methods=["POST"]),
    Route("/scope", scope.indicator),
    Route("/findings", findings.index),
    Route("/posture", posture.index),
    Route("/lake", lake.index),
    Route("/lake/verify", lake.verify, methods=["POST"]),
    Route("/audit", audit.index),
]


def create_app(workspace: Workspace, *, https: bool = False, allowed_hosts: list[str] | None = None,
               sources: Sources | None = None, users: UserStore | None = None,
               sessions: SessionStore | None = None, limiter: LoginLimiter | None = None) -> Starlette:
    """The console over ``workspace``. ``allowed_hosts`` guards against DNS rebinding (default:
    loopback names only); ``https`` marks cookies Secure and adds HSTS."""
    console = Console(
        workspace=workspace,
        users=users or UserStore.of(workspace),
        audit=AuditTrail(console_dir(workspace) / "audit.jsonl"),
        sources=sources or Sources(workspace),
        https=https,
    )
    if sessions is not None:
        console.sessions = sessions
    if limiter is not None:
        console.limiter = limiter
    hosts = list(allowed_hosts or LOOPBACK_HOSTS)
    app = Starlette(routes=ROUTES, middleware=[
        Middleware(SecurityHeaders, https=https),
        Middleware(TrustedHostMiddleware, allowed_hosts=hosts),
    ])
    app.state.console = console
    return app
