"""Triage on the command line: ``custodes incidents ack|assign|resolve|reopen|note|show ID``
(subcommands of ``custodes incidents``) and ``custodes suppress``."""

from __future__ import annotations

import datetime as dt
import re

import click

from custodes.alerts.text import printable
from custodes.clikit import dumps, emit_json, format_option, note, parse_time_option, subcommand_workspace_option
from custodes.workspace import Workspace

BY_HELP = "who does it, for the record (default: the OS account); the OS account is recorded too"


def _by_option(fn):
    return click.option("--by", metavar="NAME", default=None, help=BY_HELP)(fn)


def _done(result: dict, fmt: str, what: str) -> None:
    if fmt == "json":
        emit_json(result)
        return
    followed = f" (was {result['followed_from']})" if result.get("followed_from") else ""
    who = f", assigned to {printable(result['assignee'])}" if result.get("assignee") else ""
    click.echo(f"{result['incident_id']}{followed}: {what}; state {result['state']}{who}")


def _act(workspace: Workspace, incident_id, action, fmt, what, **kwargs):
    from custodes.triage import act

    _done(act(workspace, incident_id, action, **kwargs), fmt, what)


@click.command("ack")
@subcommand_workspace_option
@click.argument("incident_id")
@click.option("--note", "text", default=None, help="a note to keep with it")
@_by_option
@format_option()
def ack(workspace: Workspace, incident_id, text, by, fmt):
    """Acknowledge an incident: someone is on it."""
    _act(workspace, incident_id, "ack", fmt, "acknowledged", by=by, note=text)


@click.command("assign")
@subcommand_workspace_option
@click.argument("incident_id")
@click.argument("assignee", required=False)
@click.option("--clear", is_flag=True, help="leave it unassigned")
@_by_option
@format_option()
def assign(workspace: Workspace, incident_id, assignee, clear, by, fmt):
    """Assign an incident to ASSIGNEE (or --clear)."""
    if (assignee is None) == (not clear):
        raise click.UsageError("give ASSIGNEE or --clear")
    _act(workspace, incident_id, "assign", fmt, "assigned" if assignee else "unassigned",
         by=by, assignee=assignee or "")


@click.command("resolve")
@subcommand_workspace_option
@click.argument("incident_id")
@click.option("--false-positive", "false_positive", is_flag=True, help="close it as a false positive")
@click.option("--note", "text", default=None, help="why, to keep with it")
@_by_option
@format_option()
def resolve(workspace: Workspace, incident_id, false_positive, text, by, fmt):
    """Close an incident (resolved, or --false-positive). New evidence reopens it."""
    action = "false_positive" if false_positive else "resolve"
    _act(workspace, incident_id, action, fmt, "closed", by=by, note=text)


@click.command("reopen")
@subcommand_workspace_option
@click.argument("incident_id")
@click.option("--note", "text", default=None, help="why, to keep with it")
@_by_option
@format_option()
def reopen(workspace: Workspace, incident_id, text, by, fmt):
    """Reopen a closed incident by hand."""
    _act(workspace, incident_id, "reopen", fmt, "reopened", by=by, note=text)


@click.command("note")
@subcommand_workspace_option
@click.argument("incident_id")
@click.argument("text")
@_by_option
@format_option()
def note_cmd(workspace: Workspace, incident_id, text, by, fmt):
    """Add a note to an incident."""
    _act(workspace, incident_id, "note", fmt, "note added", by=by, note=text)


@click.command("show")
@subcommand_workspace_option
@click.argument("incident_id")
@format_option()
def show(workspace: Workspace, incident_id, fmt):
    """An incident with its triage: state, assignee, suppressions, history and notes."""
    from custodes.detect.store import incident as stored_incident
    from custodes.triage import history, suppressions, views

    found = views(workspace)
    target = next((i for i, v in found.items() if i == incident_id or incident_id in v.previous_ids), incident_id)
    incident = stored_incident(workspace, target)
    held = set(found[target].suppression_ids)
    result = {**incident, "suppression_ids": sorted(held), "history": history(workspace, target),
              "suppressions": [_suppression_json(s) for s in suppressions(workspace) if s.suppression_id in held]}
    if fmt == "json":
        emit_json(result)
        return
    click.echo(f"{incident['severity']:<8} {incident['incident_id']}  {printable(incident['title'])}")
    click.echo(f"state: {incident['state']}   assignee: {printable(incident['assignee'] or '-')}   "
               f"suppressed: {'yes (' + ', '.join(sorted(held)) + ')' if held else 'no'}")
    if incident.get("previous_incident_ids"):
        click.echo(f"previously: {', '.join(incident['previous_incident_ids'])}")
    for h in result["history"]:
        extra = {k: v for k, v in h.items() if k not in ("at", "incident_id", "by", "os_user", "via", "action")}
        click.echo(f"  {h['at']}  {h['action']:<14} by {printable(h['by'])} ({h['via']}"
                   f"{', ' + printable(h['os_user']) if h.get('os_user') else ''})"
                   f"{'  ' + printable(dumps(extra, indent=None)) if extra else ''}")


INCIDENT_COMMANDS = (ack, assign, resolve, reopen, note_cmd, show)


# Suppressions ---------------------------------------------------------------------------------
DURATION = re.compile(r"^(\d+)\s*([mhdw])$")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> dt.timedelta:
    m = DURATION.match(text.strip())
    if not m:
        raise click.BadParameter(f"{text!r}: expected a number and m, h, d or w (e.g. 12h, 7d)", param_hint="--for")
    return dt.timedelta(**{UNITS[m.group(2)]: int(m.group(1))})


def _suppression_json(s) -> dict:
    from custodes.clikit import iso

    return {"suppression_id": s.suppression_id, "rule_id": s.rule_id, "entity_key": s.entity_key,
            "entity_value": s.entity_value, "reason": s.reason, "created_at": iso(s.created_at),
            "created_by": s.created_by, "expires_at": iso(s.expires_at), "lifted_at": iso(s.lifted_at),
            "lifted_by": s.lifted_by}


@click.command()
@subcommand_workspace_option
@click.option("--rule", "rule_id", default=None, metavar="ID", help="silence this rule's findings")
@click.option("--entity", default=None, metavar="KEY=VALUE", help="silence findings carrying this entity value, e.g. src_ip=198.51.100.7")
@click.option("--reason", default=None, help="why (required)")
@click.option("--for", "duration", default=None, metavar="DURATION", help="how long: 90m, 12h, 7d, 2w (at most 90 days)")
@click.option("--until", default=None, metavar="TIME", help="until this time (RFC 3339)")
@click.option("--list", "listing", is_flag=True, help="list active suppressions")
@click.option("--all", "show_all", is_flag=True, help="with --list: expired and lifted ones too")
@click.option("--lift", "lift_id", default=None, metavar="ID", help="end a suppression now")
@_by_option
@format_option()
def suppress(workspace: Workspace, rule_id, entity, reason, duration, until, listing, show_all, lift_id, by, fmt):
    """Silence a rule or an entity value for a while, with a reason; --list, --lift ID."""
    from custodes import triage

    if listing:
        return _list(workspace, show_all, fmt)
    if lift_id:
        triage.lift(workspace, lift_id, by=by)
        return _done_lift(lift_id, fmt)
    if (duration is None) == (until is None):
        raise click.UsageError("give how long: --for DURATION or --until TIME")
    now = dt.datetime.now(dt.timezone.utc)
    expires = now + parse_duration(duration) if duration else parse_time_option(until, "--until")
    if rule_id is not None:  # a misspelt id would silence nothing while its author thinks it does
        from custodes.detect.commands import known_rule
        from custodes.detect.store import load_findings

        known_rule(workspace, rule_id, load_findings(workspace))
    pair = None
    if entity is not None:
        key, sep, value = entity.partition("=")
        if not sep:
            raise click.BadParameter(f"{entity!r}: expected KEY=VALUE", param_hint="--entity")
        pair = (key.strip(), value)
    s = triage.suppress(workspace, rule=rule_id, entity=pair, reason=reason or "", expires_at=expires,
                        by=by, now=now)
    if fmt == "json":
        emit_json(_suppression_json(s))
    else:
        click.echo(f"{s.suppression_id}: {printable(s.what)} suppressed until {s.expires_at:%Y-%m-%d %H:%M} UTC")


def _done_lift(lift_id: str, fmt: str) -> None:
    if fmt == "json":
        emit_json({"suppression_id": lift_id, "lifted": True})
    else:
        click.echo(f"{lift_id}: lifted")


def _list(workspace: Workspace, show_all: bool, fmt: str) -> None:
    from custodes import triage

    now = dt.datetime.now(dt.timezone.utc)
    items = [s for s in triage.suppressions(workspace) if show_all or s.active(now)]
    if fmt == "json":
        emit_json([_suppression_json(s) | {"active": s.active(now)} for s in items])
        return
    for s in items:
        state = "active" if s.active(now) else ("lifted" if s.lifted_at else "expired")
        click.echo(f"{s.suppression_id}  {state:<7} until {s.expires_at:%Y-%m-%d %H:%M}  {printable(s.what)}  "
                   f"by {printable(s.created_by)}: {printable(s.reason)}")
    note(f"{len(items)} suppressions")
