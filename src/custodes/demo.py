"""`custodes demo`: the main job on embedded defaults, every landed capability end to end.

Simulate a platform with the signing-key forgery and the other scenarios; let `custodes watch`
take it in as it happens (cycles over the simulated days, each attack from its start in one-hour
slices: ingest into the sealed lake, detect, alert into a file) and say when each attack's
first alert would have reached a person; verify the seals; set the incidents beside the
simulator's ground truth; scope each serious incident and write its reports; plan the
offboarding of the departed key custodian; show the guard refusing a forged token that a
signature check alone would accept; and create a console login. Prints where everything is.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from pathlib import Path

import click
import yaml

from custodes import progress
from custodes.clikit import iso, workspace_option
from custodes.text import plural
from custodes.workspace import Workspace, atomic_write_bytes

#: One-hour slices for this many hours from each attack's start (until it alerts), then days.
HOUR_SLICES = 6


class Steps:
    def __init__(self):
        self.started = None

    def __call__(self, title: str) -> None:
        self.end()
        click.echo(f"\n== {title}")
        self.started = time.perf_counter()

    def end(self) -> None:
        if self.started is not None:
            click.echo(f"   ({time.perf_counter() - self.started:.1f} s)")
            self.started = None


def simulate_world(out: Path, customers: int | None, days: int | None, seed: int):
    from custodes.simulate import simulate

    kwargs = {"seed": seed}
    if customers:
        kwargs["customers"] = customers
    if days:
        kwargs["days"] = days
    return simulate(out, **kwargs)


def watch_world(workspace: Workspace, sim_dir: Path):
    """The simulated days through `custodes watch` cycles (custodes.watch.replay); alerts go to
    a file sink in the workspace. Returns the replay's timeline."""
    from custodes.watch import run_cycle
    from custodes.watch.logs import configure as configure_logs
    from custodes.watch.replay import configuration, replay

    configure_logs("text", level=logging.ERROR)  # a failing source or sink is said; alerts are shown below

    feed, alerts_file = workspace.root / "demo-feed", workspace.root / "demo-alerts.jsonl"
    config = workspace.config()
    config.update(configuration(sim_dir, feed, alerts_file))
    atomic_write_bytes(workspace.config_path, yaml.safe_dump(config, sort_keys=False).encode())
    click.echo(f"   sources: {feed}/access/ and issuance/ (the platform's logs, a slice at a time) and the "
               f"reference files; alerts to {alerts_file}")
    totals: dict[str, list[int]] = {}

    def cycle(ws: Workspace):
        report = run_cycle(ws)
        for s in report.sources:
            t = totals.setdefault(s.dataset, [0, 0, 0])
            t[0], t[1], t[2] = t[0] + s.rows, t[1] + s.quarantined, t[2] + s.already
        return report

    def show(step):
        click.echo(f"   {step.mode:<7} up to {step.until[:16].replace('T', ' ')}  {sum(step.rows.values()):>10,} rows  "
                   f"cycle {step.seconds:5.1f} s{'' if step.ok else '  (a source or sink FAILED)'}")
        for a in step.alerts:
            named = f" ({a['scenario']})" if a["scenario"] else ""
            click.echo(f"      alert: {a['severity']} incident {a['event']} {a['incident_id']}{named}")

    with progress.shown("watch cycles", "hours of data time") as bar:
        timeline = replay(workspace, sim_dir, feed, hours=HOUR_SLICES, cycle=cycle, on_step=show, progress=bar)
    for dataset, (rows, quarantined, already) in totals.items():
        again = f", {plural(already, 'file')} already in the lake (same content)" if already else ""
        click.echo(f"   {dataset:<12} {rows:>12,} rows loaded, {quarantined:,} quarantined{again}")
    return timeline


def first_alerts(timeline, workspace: Workspace) -> None:
    """The headline: when each attack's first alert would have reached a person."""
    for name, f in timeline.first.items():
        began = f.start[:16].replace("T", " ")
        if f.alert_at is None:
            click.echo(f"   {name:<22} began {began}: no high or critical alert")
        else:
            click.echo(f"   {name:<22} began {began}, first alert {f.alert_at[:16].replace('T', ' ')} "
                       f"({f.severity}): {_span(f.delay)} after its first request")
        if f.warned_at:
            click.echo(f"   {'':<22} and before it began, from {f.warned_at[:10]}: {f.warning}")
    sent = workspace.root / "demo-alerts.jsonl"
    count = len(sent.read_text().splitlines()) if sent.exists() else 0
    click.echo("   In the real case, the key forgery ran for about seven months before anyone noticed.")
    click.echo(f"   {plural(count, 'alert')} delivered to {sent}; times are the platform's clock: each slice's cycle "
               f"ran as a watch runs every minute")


def _span(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{plural(hours // 24, 'day')} {hours % 24} h"


def verify_lake(workspace: Workspace) -> None:
    from custodes.lake import verify

    report = verify(workspace)
    state = "intact" if report.ok else "NOT INTACT"
    click.echo(f"   seals: {state}: {report.files} partition files, {report.bytes / 2**20:,.0f} MiB, "
               f"{report.entries} chained ingest entries, head {report.signature}")


def detect_and_compare(workspace: Workspace, sim_dir: Path) -> list[dict]:
    from custodes.detect.state import State
    from custodes.detect.store import load_findings, load_incidents
    from custodes.detect.truth import compare, load_truth, render

    findings = load_findings(workspace)
    incidents = load_incidents(workspace)
    severities: dict[str, int] = {}
    for f in findings:
        severities[f["severity"]] = severities.get(f["severity"], 0) + 1
    click.echo(f"   the watch's incremental detection over data up to {State.load(workspace).now}: "
               f"{plural(len(findings), 'finding')} ({', '.join(f'{n} {sev}' for sev, n in severities.items())}), "
               f"{plural(len(incidents), 'incident')}")
    for incident in incidents:
        if incident["severity"] in ("high", "critical"):
            click.echo(f"   {incident['severity']:<8} {incident['incident_id']}  {incident['title']}")
    click.echo("   beside the simulator's ground truth:")
    click.echo(render(compare(incidents, load_truth(sim_dir))))
    return incidents


def respond(workspace: Workspace) -> list[dict]:
    from custodes.engine import connect
    from custodes.respond.pipeline import respond_all

    with connect(workspace) as engine:
        done = respond_all(engine, workspace)
    for entry in done:
        if "error" in entry:
            click.echo(f"   {entry['incident_id']}: {entry['error']}")
            continue
        s = entry["scope"]
        fields = ", ".join(f"{k} {v:,}" for k, v in sorted(s["fields"].items()))
        click.echo(f"   {entry['incident_id']}: {plural(s['accounts'], 'account')}, "
                   f"{plural(s['records'], 'record')}, {plural(s['requests'], 'request')}, "
                   f"{s['first_access']} to {s['last_access']}")
        click.echo(f"      exposed: {fields or 'no personal data'}")
        for name, path in entry["reports"].items():
            click.echo(f"      {name:<13} {path}")
        for name, why in entry["failed"].items():
            click.echo(f"      {name}: not written: {why}")
        if entry["draft"]:
            click.echo(f"      drafts until set: {'; '.join(entry['draft'])} (custodes report --check)")
    return done


def offboard_custodian(workspace: Workspace, sim_dir: Path) -> None:
    from custodes.engine import connect
    from custodes.respond.offboard import plan
    from custodes.simulate import load_truth

    truth = load_truth(sim_dir)
    forgery = next((s for s in truth["scenarios"] if s["name"] == "key_forgery"), None)
    employees = forgery["indicators"]["employee_id"] if forgery else []
    with connect(workspace) as engine:
        for employee in employees:
            p = plan(engine, workspace, employee)
            click.echo(f"   {employee} ({p.name or 'unnamed'}), left {iso(p.terminated_at)}: "
                       f"{plural(len(p.credentials), 'credential')} to revoke, {plural(len(p.keys), 'key')} to rotate "
                       f"({', '.join(k.get('kid', '?') for k in p.keys) or 'none'}), "
                       f"{plural(len(p.sessions), 'session')} to end")
            click.echo(f"      apply with: custodes offboard {employee} --apply --workspace {workspace.root}")


def guard_forged_token() -> None:
    """The real breach's gap: a signature check alone accepts a token nobody issued."""
    from custodes.guard import Verifier, load_jwks
    from custodes.guard.ledger import open_ledger
    from custodes.guard.mint import generate, jwks

    key = generate("ES256", "app-at-demo")
    keys = load_jwks(jwks(key))
    ledger = open_ledger("memory:")
    now = int(time.time())
    issued = {"sub": "u10000001", "jti": str(uuid.uuid4()), "iat": now, "exp": now + 3600}
    ledger.record(issued["jti"], issued["sub"], key.kid, issued["exp"], iat=issued["iat"])
    forged = dict(issued, sub="u10000002", jti=str(uuid.uuid4()))
    signature_only = Verifier(keys)
    guarded = Verifier(keys, ledger=ledger)
    for label, claims in (("issued token", issued), ("forged token", forged)):
        token = key.sign(claims)
        plain, full = signature_only.verify(token), guarded.verify(token)
        click.echo(f"   {label:<13} signature check alone: {'accept' if plain.ok else 'reject'}; "
                   f"custodes guard: {'accept' if full.ok else 'REJECT'} ({full.reason})")
    ledger.revoke(sub=issued["sub"])
    after = guarded.verify(key.sign(issued))
    click.echo(f"   issued token after revoking its subject: {'accept' if after.ok else 'REJECT'} ({after.reason})")


def console_login(workspace: Workspace) -> None:
    from custodes.console.users import UserStore

    password = UserStore.of(workspace).add_generated("demo", "admin")
    click.echo(f"   user 'demo' (admin), password: {password}")
    click.echo(f"   start it: custodes serve --workspace {workspace.root}   (http://127.0.0.1:8700)")


@click.command()
@workspace_option(create=True)
@click.option("--customers", type=click.IntRange(min=100), default=None, help="customers to simulate (default: the demo world)")
@click.option("--days", type=click.IntRange(min=14), default=None, help="days to simulate (default: the demo world)")
@click.option("--seed", type=int, default=7, show_default=True)
def demo(workspace: Workspace, customers, days, seed):
    """Simulate a platform with the signing-key forgery and run custodes over it, end to end."""
    step = Steps()
    sim_dir = workspace.root / "demo-world"
    step(f"Simulating a platform into {sim_dir}")
    click.echo(f"   {simulate_world(sim_dir, customers, days, seed)}")
    step("Watching it as it happens: custodes watch cycles over the days, each attack in hour slices")
    timeline = watch_world(workspace, sim_dir)
    step("When each attack's first alert would have reached a person")
    first_alerts(timeline, workspace)
    step("Verifying the lake's seals")
    verify_lake(workspace)
    step("Detecting: the watch's incidents beside the simulator's ground truth")
    detect_and_compare(workspace, sim_dir)
    step("Scoping each serious incident; its PIPC report (Korean) and GDPR notification (English)")
    respond(workspace)
    step("Offboarding plan for the departed key custodian")
    offboard_custodian(workspace, sim_dir)
    step("The guard at the edge")
    guard_forged_token()
    step("The console")
    console_login(workspace)
    step.end()
    click.echo(f"\nworkspace: {workspace.root}  (custodes status / incidents / findings --workspace {workspace.root})")
