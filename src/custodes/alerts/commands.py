"""``custodes alerts`` (the outbox and its deliveries), ``custodes alerts send`` (one alerting
step now) and ``custodes alerts test`` (a test alert through each sink)."""

from __future__ import annotations

import dataclasses

import click

from custodes.alerts.text import printable
from custodes.clikit import WORKSPACE_HELP, emit_json, format_option, given_workspace, note, subcommand_workspace_option
from custodes.errors import CustodesError
from custodes.text import plural
from custodes.workspace import Workspace


@click.group(invoke_without_command=True)
@click.option("--workspace", "workspace_dir", default=None, metavar="DIR", help=WORKSPACE_HELP)
@click.option("--pending", is_flag=True, help="only alerts with a delivery still to make")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000), help="newest N alerts")
@format_option()
@click.pass_context
def alerts(ctx, workspace_dir, pending, limit, fmt):
    """List the outbox: alerts, newest first, and their delivery to each sink."""
    from custodes.alerts.outbox import Outbox

    if ctx.invoked_subcommand is not None:
        return
    workspace = given_workspace(ctx, workspace_dir)
    box = Outbox.open_existing(workspace)
    items = []
    if box is not None:
        with box:
            items = box.listing(limit, pending)
    if fmt == "json":
        emit_json(items)
        return
    for a in items:
        click.echo(f"{a['enqueued_at']}  {a['alert_id']}  {a['severity'] or '-':<8} {a['event']:<9} "
                   f"{a['incident_id'] or '-'}  {printable(a['title'] or '')}")
        for d in a["deliveries"]:
            click.echo(f"    {d['sink']:<12} {_delivery_words(d)}")
    note(plural(len(items), "alert") + ("" if box is not None else " (no outbox yet)"))


def _delivery_words(d: dict) -> str:
    tries = f"{d['attempts']} attempt{'s' if d['attempts'] != 1 else ''}"
    if d["state"] == "delivered":
        return f"delivered {d['delivered_at']} ({tries})"
    if not d["attempts"]:
        return "pending: not tried yet"
    return f"pending: {tries}, next {d['next_attempt_at']}; last error: {printable(d['last_error'] or '')}"


@alerts.command("send")
@subcommand_workspace_option
@format_option()
def send(workspace: Workspace, fmt):
    """Run one alerting step now: enqueue what the incidents call for, deliver what is due."""
    from custodes.alerts import process

    report = process(workspace)
    if fmt == "json":
        emit_json(dataclasses.asdict(report) | {"ok": report.ok})
    else:
        for n in report.notes:
            note(n)
        for a in report.enqueued:
            click.echo(f"enqueued {a['alert_id']} {a['event']} {a['incident_id']} ({a['severity']}) "
                       f"-> {', '.join(a['sinks']) or 'no sink'}")
        for d in report.failed:
            click.echo(f"failed   {d['alert_id']} to {d['sink']}: {printable(d['error'])}; "
                       f"retry in {d['retry_in_s']:.0f} s")
        pending = sum(report.pending.values())
        click.echo(f"{len(report.enqueued)} enqueued, {len(report.delivered)} delivered, "
                   f"{len(report.failed)} failed, {pending} pending")
    if not report.ok:
        raise SystemExit(1)


@alerts.command("test")
@subcommand_workspace_option
@click.option("--sink", "only", default=None, metavar="NAME", help="only this sink")
@format_option()
def test(workspace: Workspace, only, fmt):
    """Send a test alert through each sink now (outside the outbox); exit 1 if any failed."""
    from custodes.alerts.cycle import send_test

    results = send_test(workspace, only)
    if fmt == "json":
        emit_json(results)
    else:
        for r in results:
            click.echo(f"{r['sink']:<12} {r['type']:<8} {'ok' if r['ok'] else 'FAILED: ' + printable(r['error'])}")
    if not all(r["ok"] for r in results):
        raise CustodesError(f"{sum(not r['ok'] for r in results)} of {plural(len(results), 'sink')} failed the test")
