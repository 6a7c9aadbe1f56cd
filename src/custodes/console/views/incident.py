"""One incident: what happened (findings on a timeline), what it touched (blast radius), and
for analysts the affected accounts, viewable and exportable, each view audited."""

from __future__ import annotations

import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.background import BackgroundTask
from starlette.responses import FileResponse, Response

from custodes.console import auth, blast
from custodes.console.charts import finding_lanes
from custodes.console.render import SEVERITY_ORDER, page
from custodes.console.views.triage import panel as triage_panel

ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _not_found(request, principal, incident_id):
    return page(request, "error.html", principal, status=404, title="No such incident",
                message=f"There is no incident {incident_id!r} in this workspace.")


def incident_findings(incident: dict, findings: list[dict]) -> list[dict]:
    ids = set(incident.get("finding_ids") or [])
    mine = [f for f in findings if f.get("finding_id") in ids or f.get("incident_id") == incident["incident_id"]]
    return sorted(mine, key=lambda f: (f.get("first_seen") or "", SEVERITY_ORDER.get(f.get("severity"), 9)))


@auth.requires("view")
async def detail(request: Request, principal: auth.Principal):
    sources = request.app.state.console.sources
    incident_id = request.path_params["incident_id"]
    if not ID_PATTERN.match(incident_id):
        return _not_found(request, principal, incident_id)
    found = await run_in_threadpool(sources.incident, incident_id)
    if not found.ok:
        return page(request, "error.html", principal, status=503, title="Incidents unavailable",
                    message=found.missing)
    if found.data is None:
        return _not_found(request, principal, incident_id)
    incident = found.data
    findings = await run_in_threadpool(sources.findings)
    mine = incident_findings(incident, findings.data) if findings.ok else []
    scope = await run_in_threadpool(sources.scope_incident, incident_id, principal.can("view_accounts"))
    triage = await run_in_threadpool(triage_panel, request.app.state.console.workspace, incident,
                                     principal.can("triage"))
    auth.audit(request, principal, "view.incident", incident_id)
    return page(request, "incident.html", principal, title=incident.get("title", incident_id), triage=triage,
                incident=incident, findings=mine, findings_missing=findings.missing,
                lanes=finding_lanes(mine), blast=blast.panel(request, principal, scope, incident_id),
                export_action=f"/incidents/{incident_id}/accounts.csv")


async def _export(request: Request, principal: auth.Principal, contacts: bool):
    incident_id = request.path_params["incident_id"]
    data, refused = await auth.checked_form(request, principal)
    if refused is not None:
        return refused
    if not ID_PATTERN.match(incident_id):
        return Response("no such incident", status_code=404, media_type="text/plain")
    path, written = await run_in_threadpool(blast.export_file, request, "incident", incident_id,
                                            contacts, f"console:{principal.user.name}")
    if not written.ok:
        path.unlink(missing_ok=True)
        return Response(written.missing, status_code=409, media_type="text/plain")
    what = "contacts" if contacts else "accounts"
    try:
        auth.audit(request, principal, f"export.{what}", incident_id, rows=written.data)
    except BaseException:  # not audited, not sent: the file goes too
        path.unlink(missing_ok=True)
        raise
    name = f"{incident_id}-{'notification-list' if contacts else 'accounts'}.csv"
    return FileResponse(path, media_type="text/csv", filename=name,
                        background=BackgroundTask(path.unlink, missing_ok=True))


@auth.requires("export_accounts")
async def export_accounts(request: Request, principal: auth.Principal):
    return await _export(request, principal, contacts=False)


@auth.requires("export_contacts")
async def export_contacts(request: Request, principal: auth.Principal):
    """The notification list: affected accounts with names, e-mails and phones (admins only)."""
    return await _export(request, principal, contacts=True)
