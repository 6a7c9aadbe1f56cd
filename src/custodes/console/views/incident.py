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
#: breach documents the incident page offers (respond's documents), and what each needs
DOCUMENTS = {"pipc": "PIPC report", "gdpr33": "GDPR Art. 33 notification", "annex": "technical annex",
             "notice": "customer notice (sample letter; CSV: mail merge)"}
DOCUMENT_FORMATS = {"pdf": "application/pdf", "html": "text/html; charset=utf-8",
                    "md": "text/markdown; charset=utf-8", "json": "application/json",
                    "csv": "text/csv; charset=utf-8"}


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
                export_action=f"/incidents/{incident_id}/accounts.csv",
                documents=DOCUMENTS, document_formats=list(DOCUMENT_FORMATS))


async def _incident_form(request: Request, principal: auth.Principal):
    """A POST about one incident: ``(incident_id, form, None)``, or ``(.., .., response)`` refusing
    it (no CSRF token, another site's form, an id that cannot be one)."""
    incident_id = request.path_params["incident_id"]
    data, refused = await auth.checked_form(request, principal)
    if refused is None and not ID_PATTERN.match(incident_id):
        refused = Response("no such incident", status_code=404, media_type="text/plain")
    return incident_id, data, refused


async def _export(request: Request, principal: auth.Principal, contacts: bool):
    incident_id, _, refused = await _incident_form(request, principal)
    if refused is not None:
        return refused
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


@auth.requires("export_documents")
async def document(request: Request, principal: auth.Principal):
    """One breach document, built from the lake now and sent as an attachment. The customer
    notice names a customer and its mail-merge file holds everyone's contacts: admins only, as
    the notification list."""
    incident_id, data, refused = await _incident_form(request, principal)
    if refused is not None:
        return refused
    doc, lang, fmt = data.get("doc"), data.get("lang") or None, data.get("format") or "pdf"
    if doc not in DOCUMENTS or fmt not in DOCUMENT_FORMATS or lang not in (None, "ko", "en"):
        return Response("unknown document, language or format", status_code=400, media_type="text/plain")
    if doc == "notice" and not principal.can("export_contacts"):
        auth.audit(request, principal, "denied", request.url.path, permission="export_contacts", document=doc)
        return Response("the customer notice holds customers' names and contacts: admins only",
                        status_code=403, media_type="text/plain")
    discovered = None
    if data.get("discovered_at"):
        import click

        from custodes.clikit import parse_time_option

        try:
            discovered = parse_time_option(str(data["discovered_at"])[:40], "discovered at")
        except click.BadParameter as exc:
            return Response(exc.format_message(), status_code=400, media_type="text/plain")
    sources = request.app.state.console.sources
    made = await run_in_threadpool(sources.document, incident_id, doc, lang, fmt, discovered)
    if not made.ok:
        return Response(made.missing, status_code=409, media_type="text/plain")
    auth.audit(request, principal, "export.document", incident_id, document=doc, lang=lang or "default", format=fmt)
    name = f"{incident_id}-{doc}{'-' + lang if lang else ''}.{fmt}"
    return Response(made.data, media_type=DOCUMENT_FORMATS[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
