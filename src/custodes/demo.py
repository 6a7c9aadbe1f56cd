"""`custodes demo`: the main job on embedded defaults, every landed capability end to end.

Simulate a platform with the signing-key forgery and the other scenarios; ingest it into a sealed
lake and verify the seals; detect, and set the incidents beside the simulator's ground truth;
scope each serious incident and write its reports; plan the offboarding of the departed key
custodian; show the guard refusing a forged token that a signature check alone would accept; and
create a console login. Prints where everything is.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import click

from custodes.clikit import iso, workspace_option

#: Reference datasets the simulator writes as single files (event datasets are daily folders).
REFERENCE_FILES = ("workforce.csv", "credentials.csv", "keys.csv", "key_custody.csv",
                   "catalog.csv", "customers.parquet")


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


def ingest_world(workspace, sim_dir: Path) -> None:
    from custodes.lake import ingest

    sources = [("access", sim_dir / "access"), ("issuance", sim_dir / "issuance")]
    sources += [(name.split(".")[0], sim_dir / name) for name in REFERENCE_FILES]
    for dataset, path in sources:
        report = ingest(workspace, dataset, [path])
        skipped = sum(f.skipped for f in report.files)
        again = f", {skipped} file(s) already in the lake (same content)" if skipped else ""
        click.echo(f"   {dataset:<12} {report.rows:>12,} rows loaded, {report.quarantined:,} quarantined{again}")


def verify_lake(workspace) -> None:
    from custodes.lake import verify

    report = verify(workspace)
    state = "intact" if report.ok else "NOT INTACT"
    click.echo(f"   seals: {state}: {report.files} partition files, {report.bytes / 2**20:,.0f} MiB, "
               f"{report.entries} chained ingest entries, head {report.signature}")


def detect_and_compare(workspace, sim_dir: Path) -> list[dict]:
    from custodes.detect.run import detect
    from custodes.detect.store import load_incidents
    from custodes.detect.truth import compare, load_truth, render

    summary = detect(workspace, full=True, notify=lambda m: click.echo(f"   note: {m}", err=True))
    severities = ", ".join(f"{n} {sev}" for sev, n in summary.by_severity.items())
    click.echo(f"   {summary.rules_run} rules over data up to {summary.now}: {summary.findings} findings "
               f"({severities}), {summary.incidents} incidents")
    incidents = load_incidents(workspace)
    for incident in incidents:
        if incident["severity"] in ("high", "critical"):
            click.echo(f"   {incident['severity']:<8} {incident['incident_id']}  {incident['title']}")
    click.echo("   beside the simulator's ground truth:")
    click.echo(render(compare(incidents, load_truth(sim_dir))))
    return incidents


def respond(workspace) -> list[dict]:
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
        click.echo(f"   {entry['incident_id']}: {s['accounts']:,} accounts, {s['records']:,} records, "
                   f"{s['requests']:,} requests, {s['first_access']} to {s['last_access']}")
        click.echo(f"      exposed: {fields or 'no personal data'}")
        for name, path in entry["reports"].items():
            click.echo(f"      {name:<13} {path}")
        for name, why in entry["failed"].items():
            click.echo(f"      {name}: not written: {why}")
        if entry["draft"]:
            click.echo(f"      drafts until set: {'; '.join(entry['draft'])} (custodes report --check)")
    return done


def offboard_custodian(workspace, sim_dir: Path) -> None:
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
                       f"{len(p.credentials)} credentials to revoke, {len(p.keys)} keys to rotate "
                       f"({', '.join(k.get('kid', '?') for k in p.keys) or 'none'}), "
                       f"{len(p.sessions)} sessions to end")
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


def console_login(workspace) -> None:
    from custodes.console.users import UserStore

    password = UserStore.of(workspace).add_generated("demo", "admin")
    click.echo(f"   user 'demo' (admin), password: {password}")
    click.echo(f"   start it: custodes serve --workspace {workspace.root}   (http://127.0.0.1:8700)")


@click.command()
@workspace_option
@click.option("--customers", type=click.IntRange(min=100), default=None, help="customers to simulate (default: the demo world)")
@click.option("--days", type=click.IntRange(min=14), default=None, help="days to simulate (default: the demo world)")
@click.option("--seed", type=int, default=7, show_default=True)
def demo(workspace, customers, days, seed):
    """Simulate a platform with the signing-key forgery and run custodes over it, end to end."""
    step = Steps()
    sim_dir = workspace.root / "demo-world"
    step(f"Simulating a platform into {sim_dir}")
    click.echo(f"   {simulate_world(sim_dir, customers, days, seed)}")
    step("Ingesting it into the sealed lake")
    ingest_world(workspace, sim_dir)
    step("Verifying the lake's seals")
    verify_lake(workspace)
    step("Detecting")
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
