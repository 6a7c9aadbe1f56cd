"""Findings: every detection result, filterable by severity and rule."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from custodes.console import auth
from custodes.console.render import SEVERITY_ORDER, page


@auth.requires("view")
async def index(request: Request, principal: auth.Principal):
    severity = request.query_params.get("severity", "")
    severity = severity if severity in SEVERITY_ORDER else ""
    rule = request.query_params.get("rule", "")[:128]
    outcome = await run_in_threadpool(request.app.state.console.sources.findings)
    rows = outcome.data if outcome.ok else []
    rules = sorted({f.get("rule_id", "") for f in rows})
    if severity:
        rows = [f for f in rows if SEVERITY_ORDER.get(f.get("severity"), 9) <= SEVERITY_ORDER[severity]]
    if rule:
        rows = [f for f in rows if f.get("rule_id") == rule]
    rows = sorted(sorted(rows, key=lambda f: f.get("last_seen") or "", reverse=True),
                  key=lambda f: SEVERITY_ORDER.get(f.get("severity"), 9))
    auth.audit(request, principal, "view.findings", "/findings", listed=len(rows))
    return page(request, "findings.html", principal, title="Findings", findings=rows,
                missing=outcome.missing, severity=severity, rule=rule, rules=rules,
                severities=list(SEVERITY_ORDER))
