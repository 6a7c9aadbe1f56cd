"""`custodes detect`, `custodes findings`, `custodes incidents`."""

from __future__ import annotations

import dataclasses

import click

from custodes import progress
from custodes.clikit import (
    WORKSPACE_HELP, echo, emit_json, format_option, given_workspace, note, parse_time_option,
    workspace_option,
)
from custodes.detect.rule import SEVERITIES, SEVERITY_RANK
from custodes.errors import CustodesError
from custodes.text import plural
from custodes.triage import commands as triage_commands
from custodes.workspace import Workspace


@click.command()
@workspace_option
@click.option("--full", is_flag=True, help="recompute every day, not only what arrived since the last run")
@click.option("--engine", "backend", type=click.Choice(["duckdb", "spark"]), default=None,
              help="query engine (default: custodes.yaml engine, else duckdb)")
@format_option()
def detect(workspace: Workspace, full, backend, fmt):
    """Run every detection over what was ingested since the last run; group into incidents."""
    from custodes.detect.run import detect as run_detect

    with progress.shown("detect", "rules") as bar:
        summary = run_detect(workspace, backend=backend, full=full, notify=note, progress=bar)
    _keep_triage_in_step(workspace)
    if fmt == "json":
        emit_json(dataclasses.asdict(summary))
        return
    since = f" from {summary.since}" if summary.since else ""
    echo(f"{summary.mode} run{since}, data time now {summary.now}: {plural(summary.rules_run, 'rule')}, "
         f"{plural(summary.new_findings, 'new finding')}, {plural(summary.findings, 'finding')} in "
         f"{plural(summary.incidents, 'incident')}")
    if summary.by_severity:
        echo("  " + ", ".join(f"{summary.by_severity[s]} {s}" for s in reversed(SEVERITIES)
                                    if s in summary.by_severity))
    for inc in summary.top_incidents:
        echo(f"  {inc['severity']:<8} {inc['incident_id']}  {inc['title']}")


def _keep_triage_in_step(workspace: Workspace) -> None:
    """Triage follows incidents whose id changed, and reopens closed ones with new evidence,
    recorded with the time of this run (``custodes watch`` does the same through alerts)."""
    from custodes import triage

    for incident_id in triage.sync(workspace)[1]:
        note(f"reopened {incident_id}: new evidence since it was closed")


def _severity_filter(value):
    if value is None:
        return None
    if value not in SEVERITY_RANK:
        raise click.BadParameter(f"{value!r}; expected one of {', '.join(SEVERITIES)}", param_hint="--severity")
    return value


@click.command()
@workspace_option
@click.option("--since", default=None, help="only findings last seen at or after this time (RFC 3339)")
@click.option("--severity", default=None, metavar="S", help="minimum severity: info, low, medium, high, critical")
@click.option("--rule", "rule_id", default=None, help="only this rule's findings")
@format_option("text", "json", "ocsf")
def findings(workspace: Workspace, since, severity, rule_id, fmt):
    """List findings (newest first in text; as CONTRACT.md in json; OCSF 2004 in ocsf)."""
    from custodes.clikit import iso
    from custodes.detect.store import load_findings

    since_t = parse_time_option(since, "--since")
    minimum = _severity_filter(severity)
    items = _require(workspace, load_findings(workspace))
    if rule_id:
        known_rule(workspace, rule_id, items)
    if since_t is not None:
        items = [f for f in items if f["last_seen"] >= iso(since_t)]
    if minimum:
        items = [f for f in items if SEVERITY_RANK[f["severity"]] >= SEVERITY_RANK[minimum]]
    if rule_id:
        items = [f for f in items if f["rule_id"] == rule_id]
    if fmt == "json":
        emit_json(items)
    elif fmt == "ocsf":
        from custodes.detect.ocsf import to_ocsf

        emit_json([to_ocsf(f) for f in items])
    else:
        for f in sorted(items, key=lambda f: (f["last_seen"], f["finding_id"]), reverse=True):
            echo(f"{f['severity']:<8} {f['last_seen']}  {f['rule_id']:<30} {f['title']}")
        note(plural(len(items), "finding"))


def known_rule(workspace: Workspace, rule_id: str, findings: list[dict]) -> None:
    """An id no rule has (nor any stored finding, from a rule since removed) is a mistake: an
    empty list would read as "that rule found nothing", a suppression would silence nothing."""
    from custodes.config.explain import nearest
    from custodes.detect.registry import all_rules

    known = sorted({r.id for r in all_rules(workspace)} | {f["rule_id"] for f in findings})
    if rule_id not in known:
        close = nearest(rule_id, known)
        hint = f"; did you mean {close[0]}?" if close else "; see custodes findings for the rules that found something"
        raise click.BadParameter(f"no rule has the id {rule_id!r}{hint}", param_hint="--rule")


@click.group(invoke_without_command=True)
@click.option("--workspace", "workspace_dir", default=None, metavar="DIR", help=WORKSPACE_HELP)
@click.option("--severity", default=None, metavar="S", help="minimum severity")
@format_option()
@click.pass_context
def incidents(ctx, workspace_dir, severity, fmt):
    """List incidents: findings that share entities, grouped. Triage them with the
    subcommands (ack, assign, resolve, reopen, note, show)."""
    from custodes.detect.store import load_incidents

    if ctx.invoked_subcommand is not None:
        return  # the subcommand opens the workspace (this one's --workspace included)
    workspace = given_workspace(ctx, workspace_dir)
    minimum = _severity_filter(severity)
    items = _require(workspace, load_incidents(workspace))
    if minimum:
        items = [i for i in items if SEVERITY_RANK[i["severity"]] >= SEVERITY_RANK[minimum]]
    if fmt == "json":
        emit_json(items)
        return
    for i in items:
        echo(f"{i['severity']:<8} {i['incident_id']}  {i['first_seen']} .. {i['last_seen']}  "
             f"{plural(len(i['finding_ids']), 'finding')}")
        echo(f"         {i['title']}")
        ents = ", ".join(f"{k}: {', '.join(v[:5])}{' ...' if len(v) > 5 else ''}"
                         for k, v in i["entities"].items() if v)
        if ents:
            echo(f"         {ents}")
    note(plural(len(items), "incident"))


for _command in triage_commands.INCIDENT_COMMANDS:
    incidents.add_command(_command)


def _require(workspace: Workspace, items):
    if not (workspace.detect / "findings.json").exists():
        raise CustodesError(f"no detection results in {workspace.root}: run custodes detect first")
    return items
