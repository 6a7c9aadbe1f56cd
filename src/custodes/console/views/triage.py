"""Triage from the incident page: acknowledge, assign, resolve, mark false positive, reopen,
note, suppress and lift (analysts and admins). Every action is a POST checked for CSRF and
origin, recorded by custodes.triage with the signed-in user, and audited here."""

from __future__ import annotations

import datetime as dt

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse

from custodes.console import auth
from custodes.console.render import page
from custodes.errors import CustodesError
from custodes.workspace import Workspace

DURATIONS = {"1h": dt.timedelta(hours=1), "1d": dt.timedelta(days=1), "7d": dt.timedelta(days=7),
             "30d": dt.timedelta(days=30), "90d": dt.timedelta(days=90)}


def panel(workspace: Workspace, incident: dict, can_triage: bool) -> dict:
    """What the incident page shows of triage: state, assignee, suppressions, history."""
    from custodes import triage

    try:
        found = triage.views(workspace)
        view = found.get(incident["incident_id"])
        held = set(view.suppression_ids) if view else set()
        return {
            "state": view.state if view else incident.get("state", "new"),
            "assignee": view.assignee if view else incident.get("assignee"),
            "suppressions": [s for s in triage.suppressions(workspace) if s.suppression_id in held],
            "history": triage.history(workspace, incident["incident_id"]) if view else [],
            "known": view is not None,
            "can": can_triage,
            "durations": list(DURATIONS),
            "rules": incident.get("rule_ids") or [],
            "entities": [(k, v) for k, vs in (incident.get("entities") or {}).items() for v in vs][:50],
            "missing": None,
        }
    except CustodesError as exc:
        return {"missing": f"triage: {exc}", "can": False}
    except Exception as exc:  # noqa: BLE001 - a broken triage store must not take the page down
        return {"missing": f"triage failed ({type(exc).__name__})", "can": False}


def _back(incident_id: str) -> RedirectResponse:
    return RedirectResponse(f"/incidents/{incident_id}#triage", status_code=303)


def _refused(request, principal, message: str):
    return page(request, "error.html", principal, status=400, title="Not done", message=message)


@auth.requires("triage")
async def act(request: Request, principal: auth.Principal):
    from custodes import triage
    from custodes.console.views.incident import ID_PATTERN

    incident_id = request.path_params["incident_id"]
    data, refused = await auth.checked_form(request, principal)
    if refused is not None:
        return refused
    action = data.get("action", "")
    if action not in triage.ACTIONS or not ID_PATTERN.match(incident_id):
        return _refused(request, principal, "That is not a triage action.")
    try:
        done = await run_in_threadpool(
            triage.act, request.app.state.console.workspace, incident_id, action,
            by=principal.user.name, via="console", assignee=data.get("assignee") if action == "assign" else None,
            note=data.get("note") or None)
    except CustodesError as exc:
        return _refused(request, principal, str(exc))
    auth.audit(request, principal, f"triage.{action}", done["incident_id"], state=done["state"],
               **({"assignee": done["assignee"]} if action == "assign" else {}))
    return _back(done["incident_id"])


@auth.requires("triage")
async def suppress(request: Request, principal: auth.Principal):
    from custodes import triage

    incident_id = request.path_params["incident_id"]
    data, refused = await auth.checked_form(request, principal)
    if refused is not None:
        return refused
    what, duration = data.get("what", ""), DURATIONS.get(data.get("duration", ""))
    kind, _, value = what.partition(":")
    if duration is None or kind not in ("rule", "entity") or not value:
        return _refused(request, principal, "Choose what to suppress and for how long.")
    entity = tuple(value.split("=", 1)) if kind == "entity" else None
    if entity is not None and len(entity) != 2:
        return _refused(request, principal, "Choose what to suppress and for how long.")
    now = dt.datetime.now(dt.timezone.utc)
    try:
        s = await run_in_threadpool(
            lambda: triage.suppress(request.app.state.console.workspace, rule=value if kind == "rule" else None,
                                    entity=entity, reason=data.get("reason", ""), expires_at=now + duration,
                                    by=principal.user.name, via="console", now=now))
    except CustodesError as exc:
        return _refused(request, principal, str(exc))
    auth.audit(request, principal, "triage.suppress", s.suppression_id, what=s.what,
               expires_at=s.expires_at.isoformat(), incident=incident_id)
    return _back(incident_id)


@auth.requires("triage")
async def lift(request: Request, principal: auth.Principal):
    from custodes import triage

    incident_id, suppression_id = request.path_params["incident_id"], request.path_params["suppression_id"]
    data, refused = await auth.checked_form(request, principal)
    if refused is not None:
        return refused
    try:
        await run_in_threadpool(lambda: triage.lift(request.app.state.console.workspace, suppression_id,
                                                    by=principal.user.name, via="console"))
    except CustodesError as exc:
        return _refused(request, principal, str(exc))
    auth.audit(request, principal, "triage.lift", suppression_id, incident=incident_id)
    return _back(incident_id)
