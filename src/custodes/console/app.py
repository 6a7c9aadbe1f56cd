"""The console's Starlette application factory.

``create_app(workspace)`` wires users, sessions, the login limiter, the audit trail and the data
sources into one :class:`Console`, kept on ``app.state.console`` for the views. Sessions and
login failures live in Redis when ``console.redis`` is set in ``custodes.yaml`` (several workers
then share them), else in the process's memory.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from custodes.clikit import note
from custodes.console import metrics as console_metrics
from custodes.console.audit import AuditBroken, AuditTrail
from custodes.console.clients import Network, parse_proxies
from custodes.console.headers import SecurityHeaders
from custodes.console.ratelimit import LoginLimiter, open_limiter
from custodes.console.render import make_environment
from custodes.console.sessions import SessionStore, open_session_store
from custodes.console.shared import SETTING as REDIS_SETTING, StoreUnavailable
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
    trusted_proxies: tuple[Network, ...] = ()


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
    Route("/metrics", console_metrics.endpoint),
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
    Route("/incidents/{incident_id:str}/document", incident.document, methods=["POST"]),
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


def _refused(request: Request, exc: Exception) -> Response:
    """The audit trail is broken, or Redis is down: show nothing (fail closed), say why."""
    from custodes.console.render import page

    note(f"custodes serve: refusing requests: {exc}")
    what = "The audit trail is broken" if isinstance(exc, AuditBroken) else "The session store does not answer"
    advice = ("An admin must check it (custodes serve --verify-audit) and start a new one "
              "(custodes serve --restart-audit)." if isinstance(exc, AuditBroken) else "Try again shortly.")
    return page(request, "error.html", None, status=503, title="Console unavailable",
                message=f"{what}, so the console shows nothing. {advice}")


def create_app(workspace: Workspace, *, https: bool = False, allowed_hosts: list[str] | None = None,
               sources: Sources | None = None, users: UserStore | None = None,
               sessions: SessionStore | None = None, limiter: LoginLimiter | None = None,
               trusted_proxies: list[str] | None = None) -> Starlette:
    """The console over ``workspace``. ``allowed_hosts`` guards against DNS rebinding (default:
    loopback names only); ``https`` marks cookies Secure and adds HSTS; ``trusted_proxies``
    (default: ``console.trusted_proxies`` in custodes.yaml) are the reverse proxies whose
    ``X-Forwarded-For`` names the client."""
    redis_url = workspace.setting(REDIS_SETTING, None)
    if trusted_proxies is None:
        trusted_proxies = workspace.setting("console.trusted_proxies", None) or []
        if not isinstance(trusted_proxies, list):
            trusted_proxies = [trusted_proxies]
    console = Console(
        workspace=workspace,
        users=users or UserStore.of(workspace),
        audit=AuditTrail(console_dir(workspace) / "audit.jsonl", workspace),
        sources=sources or Sources(workspace),
        https=https,
        sessions=sessions if sessions is not None else open_session_store(redis_url),
        limiter=limiter if limiter is not None else open_limiter(redis_url),
        trusted_proxies=parse_proxies(trusted_proxies, "trusted proxies"),
    )
    hosts = list(allowed_hosts or LOOPBACK_HOSTS)
    registry = CollectorRegistry()
    app = Starlette(routes=ROUTES, middleware=[
        Middleware(console_metrics.RequestMetrics, registry=registry),
        Middleware(SecurityHeaders, https=https),
        Middleware(TrustedHostMiddleware, allowed_hosts=hosts),
    ], exception_handlers={AuditBroken: _refused, StoreUnavailable: _refused})
    app.state.console = console
    app.state.metrics = registry
    return app


#: how `custodes serve --workers N` hands its options to each worker process
ENVIRONMENT = "CUSTODES_CONSOLE_OPTIONS"


def app_from_environment() -> Starlette:
    """The app factory each worker of ``custodes serve --workers N`` calls (uvicorn imports it
    by name in a fresh process): the options come from :data:`ENVIRONMENT`."""
    options = json.loads(os.environ[ENVIRONMENT])
    return create_app(Workspace.open(options.pop("workspace"), create=False), **options)
