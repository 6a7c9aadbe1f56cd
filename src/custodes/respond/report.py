"""The breach report of an incident: notification to data subjects and the regulator report
(PIPA, with the GDPR equivalents), timeline chart, fine exposure and containment plan.

One context (``build``) is rendered three ways: Markdown and HTML through the Jinja2 templates
beside this module, PDF through :mod:`custodes.respond.pdf`. Every figure in it comes from the
scope of the incident's malicious requests; nothing is typed in by hand.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import markupsafe

from custodes.clikit import iso, shell_command, terminal_safe
from custodes.errors import CustodesError
from custodes.respond import markdown, offboard, regulation
from custodes.respond.chart import timeline_svg
from custodes.respond.scope import Scope, scope
from custodes.respond.selector import Selector
from custodes.safefile import write_output
from custodes.workspace import private_dir

FORMATS = ("md", "html", "pdf")

#: what a person can do, per item exposed (the notice tells each subject what applies)
SUBJECT_ADVICE: dict[str, str] = {
    "name": "Be wary of messages that address you by name and ask for payment or login details.",
    "email": "Expect phishing e-mails that look like ours; we never ask for your password by e-mail.",
    "phone": "Expect smishing and voice phishing; do not follow links in unexpected text messages.",
    "address": "Be alert to deliveries or visitors you did not expect.",
    "entrance_code": "Change the entrance code of your building or door as soon as you can.",
    "order_history": "Be wary of messages that quote your past orders to win your trust.",
    "payment": "Check your card and bank statements and ask your card issuer to reissue the card.",
    "birth_date": "Be wary of identity checks over the phone that rely on your birth date.",
    "national_id": "Ask for identity-theft protection and watch for accounts opened in your name.",
}
GENERAL_ADVICE = ("Sign out of all sessions and change your password in the app or on the web site.")


@dataclass
class Report:
    incident: dict
    scope: Scope
    discovered_at: dt.datetime
    discovered_basis: str
    assessment: regulation.Assessment
    containment: list[dict]
    offboarding: list[offboard.OffboardPlan]
    organization: str
    contact: dict
    generated_at: dt.datetime
    chart_svg: str
    notes: list[str] = field(default_factory=list)

    @property
    def items(self) -> list[str]:
        return list(self.scope.fields)

    @property
    def advice(self) -> list[str]:
        return [SUBJECT_ADVICE[i] for i in self.items if i in SUBJECT_ADVICE] + [GENERAL_ADVICE]


# Building the context ------------------------------------------------------------------------
def find_incident(workspace, incident_id: str) -> tuple[dict, list[dict]]:
    try:
        from custodes.detect.store import load_findings, load_incidents
    except ImportError:
        raise CustodesError("reports need the detect capability, which is not installed") from None
    incidents = {i["incident_id"]: i for i in load_incidents(workspace)}
    if incident_id not in incidents:
        hint = "see `custodes incidents`" if incidents else "run `custodes detect` first"
        raise CustodesError(f"unknown incident {incident_id!r}; {hint}")
    incident = incidents[incident_id]
    ids = set(incident.get("finding_ids") or [])
    findings = [f for f in load_findings(workspace) if f.get("incident_id") == incident_id or f.get("finding_id") in ids]
    return incident, findings


def discovery(incident: dict, findings: list[dict]) -> tuple[dt.datetime, str]:
    """Discovery = the data time at which custodes first detected the incident."""
    stamps = [f["detected_at"] for f in findings if f.get("detected_at")]
    if incident.get("detected_at"):
        stamps.append(incident["detected_at"])
    if stamps:
        return min(_parse(s) for s in stamps), "first detection, in data time"
    return _parse(incident["last_seen"]), "no detection time recorded: the incident's last_seen is used; correct it if discovery was later"


def _parse(value) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc)
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(dt.timezone.utc)


def containment_plan(engine, workspace, incident: dict) -> tuple[list[dict], list[offboard.OffboardPlan], list[str]]:
    ent = incident.get("entities") or {}
    actions, plans, notes = [], [], []
    for employee in ent.get("employee_id") or []:
        try:
            plans.append(offboard.plan(engine, workspace, employee))
        except CustodesError as exc:
            notes.append(f"offboarding of {employee} not planned: {exc}")
    planned_keys = {k["kid"] for p in plans for k in p.keys}
    # Every id below can come from a forged token (kid, jti) or a log line: the commands are
    # built word by word with shell quoting, never by pasting text into a command line.
    for p in plans:
        actions.append({"action": "offboard", "target": p.employee_id,
                        "detail": f"revoke {len(p.credentials)} credential(s), rotate {len(p.keys)} key(s), "
                                  f"end {len(p.sessions)} session(s)",
                        "command": shell_command("custodes", "offboard", p.employee_id, "--apply")})
    for kid in ent.get("kid") or []:
        if kid not in planned_keys:
            actions.append({"action": "rotate key", "target": kid,
                            "detail": "deploy a new signing key, then retire this one and revoke it in the guard ledger",
                            "command": shell_command("custodes", "guard", "revoke", "--kid", kid)})
    for cred in ent.get("credential_id") or []:
        actions.append({"action": "revoke credential", "target": cred,
                        "detail": "revoke it in the guard ledger and disable it at its issuer",
                        "command": shell_command("custodes", "guard", "revoke", "--jti", cred)})
    ips = ent.get("src_ip") or []
    if ips:
        actions.append({"action": "block sources", "target": ", ".join(ips[:10]) + (" ..." if len(ips) > 10 else ""),
                        "detail": f"block {len(ips)} source address(es) at the edge while the keys are rotated",
                        "command": None})
    actions.append({"action": "verify issuance", "target": "API gateway",
                    "detail": "accept only tokens the authorization server issued (custodes guard with an issuance ledger)",
                    "command": None})
    return actions, plans, notes


def build(engine, workspace, incident_id: str) -> Report:
    incident, findings = find_incident(workspace, incident_id)
    result = scope(engine, workspace, Selector("incident", incident_id))
    discovered_at, basis = discovery(incident, findings)
    assessment = regulation.assess(result.accounts, list(result.fields), discovered_at, workspace.setting)
    actions, plans, notes = containment_plan(engine, workspace, incident)
    contact = workspace.setting("respond.contact", None) or {}
    if not isinstance(contact, dict):
        raise CustodesError("custodes.yaml: respond.contact must be a mapping (name, email, phone)")
    if not contact:
        notes.append("respond.contact is not set in custodes.yaml: the notice has no contact point yet")
    return Report(
        incident=dict(incident, findings=findings), scope=result, discovered_at=discovered_at,
        discovered_basis=basis, assessment=assessment, containment=actions, offboarding=plans,
        organization=str(workspace.setting("respond.organization", "") or "the operator"),
        contact=contact, generated_at=dt.datetime.now(dt.timezone.utc),
        chart_svg=timeline_svg(result.daily), notes=notes + result.notes,
    )


# Rendering ----------------------------------------------------------------------------------
def _plain_html(value):
    """Control characters out of every HTML value (autoescaping then does the rest)."""
    return value if isinstance(value, markupsafe.Markup) else terminal_safe(str(value))


def _env(fmt: str) -> jinja2.Environment:
    """Every value is made inert (``finalize``): HTML drops control characters and autoescapes;
    Markdown escapes Markdown and HTML, except what the ``code`` filter made a code span."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("custodes.respond", "templates"),
        autoescape=fmt == "html", undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        finalize=markdown.escape if fmt == "md" else _plain_html,
    )
    env.filters["iso"] = iso
    env.filters["num"] = lambda n: "not set" if n is None else f"{n:,.0f}"
    env.filters["code"] = markdown.code if fmt == "md" else str
    return env


def render_text(report: Report, fmt: str) -> str:
    template = _env(fmt).get_template(f"report.{fmt}.j2")
    return template.render(r=report, s=report.scope, a=report.assessment, i=report.incident)


def render(report: Report, fmt: str) -> bytes:
    if fmt not in FORMATS:
        raise CustodesError(f"unknown report format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if fmt == "pdf":
        from custodes.respond.pdf import render_pdf

        return render_pdf(report)
    return render_text(report, fmt).encode("utf-8")


def write(workspace, report: Report, fmt: str, out: Path | None = None, force: bool = False) -> Path:
    """Write the report (mode 0600, as :func:`custodes.safefile.output_file` does: an existing
    ``out`` only with ``force``) and record the export in the audit trail. The default place,
    custodes's own, is rewritten each time."""
    data = render(report, fmt)
    if out is None:
        out = private_dir(workspace.respond / "reports") / f"{report.incident['incident_id']}.{fmt}"
        force = True
    out = Path(out)
    write_output(out, data, force=force)
    from custodes.respond.audit import audit

    audit(workspace, "report", incident_id=report.incident["incident_id"], format=fmt, path=str(out.resolve()),
          accounts=report.scope.accounts)
    return out
