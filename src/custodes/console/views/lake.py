"""Lake status: what each dataset holds, what was quarantined, and the seal state."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from custodes.console import auth
from custodes.console.render import page


@auth.requires("view")
async def index(request: Request, principal: auth.Principal):
    outcome = await run_in_threadpool(request.app.state.console.sources.lake_status)
    status = outcome.data if outcome.ok else None
    datasets = sorted((status or {}).get("datasets", {}).items())
    seals = (status or {}).get("seals")
    auth.audit(request, principal, "view.lake", "/lake")
    return page(request, "lake.html", principal, title="Lake", datasets=datasets, seals=seals,
                missing=outcome.missing, report=None)


@auth.requires("view")
async def verify(request: Request, principal: auth.Principal):
    """Check every seal now. A POST (with its CSRF token): it costs a full read of the lake."""
    data, refused = await auth.checked_form(request, principal)
    if refused is not None:
        return refused
    sources = request.app.state.console.sources
    report = await run_in_threadpool(sources.verify_lake)
    outcome = await run_in_threadpool(sources.lake_status)
    status = outcome.data if outcome.ok else None
    ok = report.data.get("ok") if report.ok else None
    auth.audit(request, principal, "verify.lake", "/lake", ok=ok)
    return page(request, "lake.html", principal, title="Lake", datasets=sorted((status or {}).get("datasets", {}).items()),
                seals=(status or {}).get("seals"), missing=outcome.missing, report=report)
