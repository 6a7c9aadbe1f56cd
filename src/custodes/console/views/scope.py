"""Blast radius of an indicator (a signing key, credential, address or network, actor or
employee), for pivoting from an incident's entities or answering "what did this key reach?"."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from custodes.console import auth, blast
from custodes.console.render import page

#: query parameter -> label; the names are respond.selector' kinds
KINDS = {"kid": "signing key", "credential": "credential", "src_ip": "source address or network",
         "actor": "actor", "employee": "employee"}
MAX_VALUE = 256


@auth.requires("view")
async def indicator(request: Request, principal: auth.Principal):
    kind = request.query_params.get("kind", "")
    value = request.query_params.get("value", "").strip()
    if kind not in KINDS or not value or len(value) > MAX_VALUE:
        return page(request, "scope.html", principal, status=200 if not value else 400,
                    title="Scope an indicator", kinds=KINDS, kind=kind, value=value[:MAX_VALUE],
                    blast=None)
    outcome = await run_in_threadpool(request.app.state.console.sources.scope, kind, value,
                                      principal.can("view_accounts"))
    target = f"{kind}={value}"
    auth.audit(request, principal, "view.scope", target)
    return page(request, "scope.html", principal, title=f"Scope: {KINDS[kind]} {value}", kinds=KINDS,
                kind=kind, value=value, blast=blast.panel(request, principal, outcome, target))
