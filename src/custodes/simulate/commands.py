"""``custodes simulate``: write a simulated platform's datasets and ground truth."""

from __future__ import annotations

import datetime as dt

import click

from custodes import clikit
from custodes.simulate.run import DEFAULT_CUSTOMERS, DEFAULT_DAYS, DEFAULT_SEED, simulate as run_simulation
from custodes.simulate.scenarios import SCENARIOS
from custodes.simulate.world import DEFAULT_START
from custodes.text import plural


def _start(ctx, param, value: str | None) -> dt.datetime:
    if value is None:
        return DEFAULT_START
    parsed = clikit.parse_time_option(value, "--start")
    return parsed


@click.command("simulate")
@click.option("--out", "out_dir", required=True, metavar="DIR",
              type=click.Path(file_okay=True, dir_okay=True, writable=True),
              help="directory to write into (created; a previous simulation in it is replaced)")
@click.option("--scenario", "scenarios", multiple=True, type=click.Choice(list(SCENARIOS)),
              help="attack scenario to include (repeatable; default: all)")
@click.option("--no-scenarios", is_flag=True, help="a benign world: no attack at all")
@click.option("--customers", type=click.IntRange(min=1), default=DEFAULT_CUSTOMERS, show_default=True,
              help="customer accounts")
@click.option("--days", type=click.IntRange(min=1), default=DEFAULT_DAYS, show_default=True,
              help="days of traffic")
@click.option("--seed", type=click.IntRange(min=0, max=2**32 - 1), default=DEFAULT_SEED, show_default=True,
              help="random seed: the same seed writes byte-identical files")
@click.option("--start", callback=_start, default=None, metavar="DATE",
              help=f"first day, UTC (default {DEFAULT_START.date().isoformat()})")
@click.option("--lookalikes/--no-lookalikes", default=True, show_default=True,
              help="benign look-alikes (carrier NAT, office NAT, batch services, key rotation, ...)")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="processes writing days in parallel (default: CPU count, at most 4)")
@clikit.format_option()
def simulate(out_dir, scenarios, no_scenarios, customers, days, seed, start, lookalikes, workers, fmt):
    """Write the eight datasets of a simulated platform, plus ground_truth.json."""
    chosen = [] if no_scenarios else (list(scenarios) or None)
    if no_scenarios and scenarios:
        raise click.UsageError("--scenario and --no-scenarios cannot be combined")
    progress = clikit.note if clikit.stderr_is_terminal() else None
    summary = run_simulation(out_dir, customers=customers, days=days, seed=seed, scenarios=chosen,
                             lookalikes=lookalikes, start=start, workers=workers, progress=progress)
    if fmt == "json":
        clikit.emit_json(summary.to_dict())
        return
    click.echo(f"wrote {summary.out_dir}: {summary.customers:,} customers, {plural(summary.days, 'day')} "
               f"({summary.start} to {summary.end}), seed {summary.seed}, in {summary.seconds:.1f} s")
    for dataset, rows in summary.counts.items():
        click.echo(f"  {dataset:<12} {rows:>12,} rows")
    for name, info in summary.scenarios.items():
        click.echo(f"  scenario {name}: {info['start']} to {info['end']}, {plural(info['requests'], 'request')}, "
                   f"{plural(info['account_count'], 'account')} ({info['accounts']})")
    if summary.lookalikes:
        click.echo(f"  look-alikes: {', '.join(summary.lookalikes)}")
    click.echo(f"  ground truth: {summary.paths['ground_truth']}")
