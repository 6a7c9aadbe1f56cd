"""Incidents: the analyst's queue, worst first."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from custodes.console import auth
from custodes.console.render import SEVERITY_ORDER, page


def ordered(incidents: list[dict]) -> list[dict]:
    """Most severe first; within a severity, the most recent activity first."""
    by_time = sorted(incidents, key=lambda i: i.get("last_seen") or "", reverse=True)
    return sorted(by_time, key=lambda i: SEVERITY_ORDER.get(i.get("severity"), 9))


@auth.requires("view")
async def index(request: Request, principal: auth.Principal):
    outcome = await run_in_threadpool(request.app.state.console.sources.incidents)
    rows = ordered(outcome.data) if outcome.ok else []
    counts = {s: sum(1 for i in rows if i.get("severity") == s) for s in SEVERITY_ORDER}
    auth.audit(request, principal, "view.incidents", "/incidents", listed=len(rows))
    return page(request, "incidents.html", principal, title="Incidents", incidents=rows,
                missing=outcome.missing, counts=counts)
