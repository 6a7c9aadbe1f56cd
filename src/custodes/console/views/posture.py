"""Credential posture: signing keys whose custodians have left, departed staff's live
credentials, keys past rotation age or kept in files."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from custodes.console import auth
from custodes.console.render import page


@auth.requires("view")
async def index(request: Request, principal: auth.Principal):
    outcome = await run_in_threadpool(request.app.state.console.sources.posture)
    auth.audit(request, principal, "view.posture", "/posture")
    return page(request, "posture.html", principal, title="Credential posture",
                posture=outcome.data if outcome.ok else None, missing=outcome.missing)
