"""Server-side rendering: Jinja2 with autoescaping, and the context every page shares."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from custodes import __version__, text
from custodes.timefmt import parse_iso

TEMPLATES = Path(__file__).parent / "templates"

NAV = (
    ("/incidents", "Incidents"),
    ("/findings", "Findings"),
    ("/posture", "Credential posture"),
    ("/lake", "Lake"),
    ("/audit", "Audit trail"),
)
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


def when(value) -> str:
    """A timestamp as analysts read it: UTC, to the second, no 'T'."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = parse_iso(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def number(value) -> str:
    try:
        return text.count(value)
    except (TypeError, ValueError):
        return str(value)


def make_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["number"] = number
    env.filters["shown"] = text.shown  # any scalar: yes/no, an em dash, 1,234, 82% for a share
    env.filters["percent"] = text.percent
    return env


def page(request: Request, template: str, principal=None, status: int = 200, **context) -> HTMLResponse:
    console = request.app.state.console
    nav = [(href, label) for href, label in NAV
           if href != "/audit" or (principal is not None and principal.can("view_audit"))]
    html = console.templates.get_template(template).render(
        principal=principal, nav=nav, path=request.url.path, version=__version__,
        workspace=str(console.workspace.root), csrf=principal.session.csrf if principal else None,
        **context,
    )
    return HTMLResponse(html, status_code=status)
