"""The console's own audit trail (admins only), with the state of its hash chain."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from custodes.console import auth
from custodes.console.audit import verify
from custodes.console.render import page

SHOWN = 300


@auth.requires("view_audit")
async def index(request: Request, principal: auth.Principal):
    trail = request.app.state.console.audit
    auth.audit(request, principal, "view.audit", "/audit")  # first, so the page shows itself
    check = await run_in_threadpool(verify, trail.path, trail.workspace)
    entries = await run_in_threadpool(trail.tail, SHOWN)
    return page(request, "audit.html", principal, title="Audit trail", entries=entries, check=check)
