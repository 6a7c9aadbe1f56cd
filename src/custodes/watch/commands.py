"""``custodes watch``: the always-on service (CONTRACT.md §7, docs/watch.md)."""

from __future__ import annotations

import click

from custodes.clikit import emit_json, format_option, workspace_option
from custodes.errors import CustodesError
from custodes.text import plural
from custodes.workspace import Workspace


def _address(ctx, param, value):
    if value is None:
        return None
    from custodes.watch.metrics import parse_address

    try:
        return parse_address(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command()
@click.option("--once", is_flag=True, help="run one cycle and exit: 0, or 1 when a source, detection or a sink failed")
@click.option("--interval", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True,
              metavar="SECONDS", help="seconds to sleep between cycles")
@click.option("--metrics", "metrics", default=None, metavar="[HOST:]PORT", callback=_address,
              help="serve /metrics (Prometheus) and /healthz there (host default: 127.0.0.1)")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="log lines on stderr: text, or one JSON object a line")
@format_option()
@workspace_option(create=True)
def watch(workspace: Workspace, once, interval, metrics, log_format, fmt):
    """Ingest what is new in every source, detect, alert; every --interval seconds until SIGTERM."""
    from custodes.watch.logs import configure
    from custodes.watch.service import run

    configure(log_format)
    try:
        report = run(workspace, once=once, interval=interval, metrics=metrics)
    except OSError as exc:  # the metrics address taken, say
        raise CustodesError(f"watch: {exc.strerror or exc}") from None
    if not once:
        return
    if fmt == "json":
        emit_json(report.to_dict())
    else:
        _print(report)
    if not report.ok:
        raise CustodesError("the cycle did not complete: " + "; ".join(report.all_errors() or ["a sink failed"]))


def _print(report) -> None:
    from custodes.alerts.text import printable

    for s in report.sources:
        state = "ok" if s.ok else "FAILED: " + printable("; ".join(s.errors))
        click.echo(f"{s.name:<14} {s.dataset:<12} {s.rows:>10,} rows loaded, {s.quarantined:,} quarantined, "
                   f"{plural(s.files, 'file')}, {s.waiting:,} waiting  {state}")
    d = report.detect
    if d.get("error"):
        click.echo(f"detect: FAILED: {printable(d['error'])}")
    elif d.get("ran"):
        click.echo(f"detect: data time {d['now']}, {plural(d['new_findings'], 'new finding')}, {plural(d['incidents'], 'incident')}")
    else:
        click.echo(f"detect: nothing new{' (' + d['note'] + ')' if d.get('note') else ''}")
    a = report.alerts
    if a.get("error"):
        click.echo(f"alerts: FAILED: {printable(a['error'])}")
    else:
        click.echo(f"alerts: {len(a.get('enqueued', []))} enqueued, {a.get('delivered', 0)} delivered, "
                   f"{len(a.get('failed', []))} failed, {sum(a.get('pending', {}).values())} pending")
