"""The facts of a breach, gathered once for every document about it (docs/respond.md):

the incident and its findings, the exact scope of its malicious requests, the people affected
(with whether they can be reached), discovery, what the law asks by when
(:mod:`custodes.respond.regulation`), the containment plan and what of it was already applied,
and the organisation's own details from custodes.yaml (:mod:`custodes.respond.settings`).

:mod:`custodes.respond.documents` turns a :class:`Report` into the PIPC report, the GDPR Art. 33
notification, the customer notice and the technical annex, in Korean or English. Every figure
comes from the logs; nothing is typed in by hand.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from custodes.clikit import shell_command
from custodes.detect import store
from custodes.errors import CustodesError
from custodes.respond import offboard, regulation, settings
from custodes.respond.scope import Scope, account_columns, accounts_table, scope
from custodes.respond.selector import Selector, optional_table
from custodes.text import plural
from custodes.timefmt import parse_iso
from custodes.workspace import Workspace

if TYPE_CHECKING:
    from custodes.engine import Engine

#: what must be set before a document is more than a draft (docs/respond.md, "Drafts"), and
#: where: the custodes.yaml key or the option that sets it
REQUIRED = {
    "organization": "respond.organization",
    "privacy_officer_name": "respond.privacy_officer.name",
    "privacy_officer_contact": "respond.privacy_officer.email or respond.privacy_officer.phone",
    "discovered_at": "--discovered-at",
}


def missing_fields(config: settings.RespondConfig, discovered_given: bool) -> list[str]:
    """What is not yet set, in :data:`REQUIRED`'s order: a document is a draft until none is."""
    officer = config.privacy_officer
    out = []
    if not config.organization:
        out.append("organization")
    if officer is None or not officer.name:
        out.append("privacy_officer_name")
    if officer is None or not (officer.email or officer.phone):
        out.append("privacy_officer_contact")
    if not discovered_given:
        out.append("discovered_at")
    return out


@dataclass
class Report:
    incident: dict
    findings: list[dict]
    scope: Scope
    config: settings.RespondConfig
    discovered_at: dt.datetime
    discovered_given: bool
    first_detected: dt.datetime
    assessment: regulation.Assessment
    containment: list[dict]
    offboarding: list[offboard.OffboardPlan]
    applied: dict[str, str]               # employee id -> when their offboarding was applied
    people: pa.Table | None               # one row per affected account (build(..., people=True))
    generated_at: dt.datetime
    notes: list[str] = field(default_factory=list)

    @property
    def incident_id(self) -> str:
        return self.incident["incident_id"]

    @property
    def items(self) -> list[str]:
        return list(self.scope.fields)

    @property
    def rule_ids(self) -> list[str]:
        ids = list(self.incident.get("rule_ids") or [])
        return ids + sorted({f["rule_id"] for f in self.findings if f.get("rule_id")} - set(ids))

    @property
    def missing(self) -> list[str]:
        return missing_fields(self.config, self.discovered_given)


# Gathering ----------------------------------------------------------------------------------
def find_incident(workspace: Workspace, incident_id: str) -> tuple[dict, list[dict]]:
    incident = store.incident(workspace, incident_id)
    return incident, store.incident_findings(workspace, incident)


def first_detection(incident: dict, findings: list[dict]) -> dt.datetime:
    """The data time at which custodes first detected the incident: discovery, provisionally,
    until the operator says when they became aware (``--discovered-at``)."""
    stamps = [f["detected_at"] for f in findings if f.get("detected_at")]
    if incident.get("detected_at"):
        stamps.append(incident["detected_at"])
    return min(_parse(s) for s in stamps) if stamps else _parse(incident["last_seen"])


def _parse(value) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc)
    return parse_iso(value, "incidents.json")


def containment_plan(engine: Engine, workspace: Workspace, incident: dict) -> tuple[list[dict], list[offboard.OffboardPlan], list[str]]:
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
                        "detail": f"revoke {plural(len(p.credentials), 'credential')}, "
                                  f"rotate {plural(len(p.keys), 'key')}, end {plural(len(p.sessions), 'session')}",
                        "command": shell_command("custodes", "offboard", p.employee_id, "--apply")})
    for kid in ent.get("kid") or []:
        if kid not in planned_keys:
            actions.append({"action": "rotate_key", "target": kid,
                            "detail": "deploy a new signing key, then retire this one and revoke it in the guard ledger",
                            "command": shell_command("custodes", "guard", "revoke", "--kid", kid)})
    for cred in ent.get("credential_id") or []:
        actions.append({"action": "revoke_credential", "target": cred,
                        "detail": "revoke it in the guard ledger and disable it at its issuer",
                        "command": shell_command("custodes", "guard", "revoke", "--jti", cred)})
    ips = ent.get("src_ip") or []
    if ips:
        actions.append({"action": "block_sources", "target": ", ".join(ips[:10]) + (" ..." if len(ips) > 10 else ""),
                        "detail": f"block {len(ips)} source address(es) at the edge while the keys are rotated",
                        "command": None, "count": len(ips)})
    actions.append({"action": "verify_issuance", "target": "API gateway",
                    "detail": "accept only tokens the authorization server issued (custodes guard with an issuance ledger)",
                    "command": None})
    return actions, plans, notes


def applied_offboarding(workspace: Workspace, plans: list[offboard.OffboardPlan]) -> dict[str, str]:
    """Employee id -> when ``offboard --apply`` recorded their offboarding (a measure taken)."""
    wanted = {p.employee_id for p in plans}
    done = {}
    for record in offboard.load_records(workspace):
        employee = (record.get("plan") or {}).get("employee_id")
        if employee in wanted:
            done[employee] = min(done.get(employee, record["applied_at"]), record["applied_at"])
    return done


def unreachable(engine: Engine, result: Scope) -> int | None:
    """Affected accounts with neither e-mail nor phone in ``customers`` (one aggregate in the
    engine, nothing materialised); None without a customer directory."""
    customers = optional_table(engine, "customers")
    if customers is None:
        return None
    rows = result.rows
    accounts = rows.select(acct=account_columns(rows)["acct_id"]).filter(lambda t: t.acct.notnull()).distinct()
    reach = customers.filter(customers.email.notnull() | customers.phone.notnull()).select(reach="account_id")
    joined = accounts.left_join(reach, accounts.acct == reach.reach)
    count = joined.aggregate(n=joined.reach.isnull().sum())
    return int(engine.to_arrow(count).column("n")[0].as_py() or 0)


def affected_people(engine: Engine, result: Scope) -> pa.Table:
    """One row per affected account with its contacts when a customer directory is ingested
    (empty otherwise): what the customer notice is written from."""
    from custodes.respond.notify import notification_rows

    if optional_table(engine, "customers") is not None:
        return notification_rows(engine, result)
    table = accounts_table(engine, result)
    for column in ("name", "email", "phone"):
        table = table.append_column(column, pa.nulls(table.num_rows, pa.string()))
    return table


def build(engine: Engine, workspace: Workspace, incident_id: str, discovered_at: dt.datetime | None = None,
          people: bool = False) -> Report:
    """The facts; with ``people``, also each affected person's row (the customer notice needs
    them; at a breach of millions they are the one large thing here, so only then)."""
    incident, findings = find_incident(workspace, incident_id)
    config = settings.load(workspace)
    result = scope(engine, workspace, Selector("incident", incident_id, incident=incident))
    detected = first_detection(incident, findings)
    rule_ids = list(incident.get("rule_ids") or []) + [f.get("rule_id") for f in findings]
    assessment = regulation.assess(result.accounts, list(result.fields), discovered_at or detected, config,
                                   rule_ids=rule_ids, discovered_given=discovered_at is not None,
                                   unreachable=unreachable(engine, result))
    actions, plans, notes = containment_plan(engine, workspace, incident)
    if discovered_at is not None and discovered_at < detected and discovered_at < result.first_access:
        notes.append("--discovered-at is before the first unauthorised access: check it")
    return Report(
        incident=incident, findings=findings, scope=result, config=config,
        discovered_at=discovered_at or detected, discovered_given=discovered_at is not None,
        first_detected=detected, assessment=assessment, containment=actions, offboarding=plans,
        applied=applied_offboarding(workspace, plans), people=affected_people(engine, result) if people else None,
        generated_at=dt.datetime.now(dt.timezone.utc), notes=notes + result.notes,
    )


def default_path(workspace: Workspace, report: Report, doc: str, lang: str, fmt: str) -> Path:
    from custodes.workspace import private_dir

    return private_dir(workspace.respond / "reports") / f"{report.incident_id}-{doc}-{lang}.{fmt}"
