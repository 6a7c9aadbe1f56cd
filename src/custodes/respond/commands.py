"""`custodes scope`, `report`, `notify` and `offboard`: thin click commands over the library."""

from __future__ import annotations

import functools
from pathlib import Path

import click

from custodes.clikit import (echo, emit_json, format_option, iso, note, parse_time_option, shell_command,
                             workspace_option)
from custodes.errors import CustodesError, UsageError
from custodes.guard.ledger import open_ledger
from custodes.respond.selector import KINDS, Selector
from custodes.text import plural
from custodes.workspace import Workspace

ENGINE_HELP = "query engine (default: `engine` in custodes.yaml, else duckdb)"
FORCE_HELP = "replace the output file if it exists (never a symlink or anything but a regular file)"


def _engine(workspace: Workspace, backend):
    from custodes.engine import connect

    return connect(workspace, backend)


def selector_options(fn):
    """The six mutually exclusive selectors plus the time window; passes ``selector, since, until``."""
    @click.option("--incident", metavar="ID", help="an incident's malicious requests (see `custodes incidents`)")
    @click.option("--kid", metavar="KID", help="requests carrying a token signed with this key")
    @click.option("--credential", metavar="ID", help="requests with this token jti or API key id")
    @click.option("--src-ip", "src_ip", metavar="IP|CIDR", help="requests from this address or network")
    @click.option("--actor", metavar="ID", help="requests by this principal (token sub, employee id, service)")
    @click.option("--employee", metavar="ID", help="the employee's requests, their credentials', and "
                  "never-issued tokens signed by keys they held")
    @click.option("--since", metavar="TIME", help="from this time (inclusive; RFC 3339 or epoch seconds)")
    @click.option("--until", metavar="TIME", help="to this time (exclusive)")
    @functools.wraps(fn)
    def wrapper(*args, incident, kid, credential, src_ip, actor, employee, since, until, **kwargs):
        given = {k: v for k, v in dict(incident=incident, kid=kid, credential=credential, src_ip=src_ip,
                                       actor=actor, employee=employee).items() if v is not None}
        if len(given) != 1:
            names = " | ".join(KINDS.values())
            raise click.UsageError(f"give exactly one of {names}")
        (kind, value), = given.items()
        return fn(*args, selector=Selector(kind, value), since=parse_time_option(since, "--since"),
                  until=parse_time_option(until, "--until"), **kwargs)
    return wrapper


@click.command()
@workspace_option
@selector_options
@click.option("--accounts-out", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
              help="write one row per affected account (CSV, mode 0600)")
@click.option("--force", is_flag=True, help=FORCE_HELP)
@click.option("--engine", "backend", type=click.Choice(["duckdb", "spark"]), default=None, help=ENGINE_HELP)
@format_option()
def scope(workspace: Workspace, selector, since, until, accounts_out, force, backend, fmt):
    """Blast radius: which customer accounts, which personal-data fields, when."""
    from custodes.respond.audit import audit
    from custodes.respond.scope import scope as run_scope, write_accounts_csv
    from custodes.safefile import check_target

    if accounts_out is not None:
        check_target(accounts_out, force)  # before the scan, not after it
    with _engine(workspace, backend) as engine:
        result = run_scope(engine, workspace, selector, since, until)
        for message in result.notes:
            note(f"note: {message}")
        if accounts_out is not None:
            rows = write_accounts_csv(engine, result, accounts_out, force=force)
            audit(workspace, "accounts_export", selector=selector.as_dict(), since=since, until=until, rows=rows,
                  path=str(accounts_out.resolve()))
            note(f"wrote {plural(rows, 'account')} to {accounts_out}")
    if fmt == "json":
        emit_json(result.to_json())
    else:
        echo(scope_text(result))


def scope_text(result) -> str:
    lines = [f"Scope of {result.selector.describe()}"
             + (f" in [{iso(result.since) or '-inf'}, {iso(result.until) or '+inf'})" if result.since or result.until else ""),
             f"  accounts  {result.accounts:,}", f"  records   {result.records:,}",
             f"  requests  {result.requests:,}",
             f"  first     {iso(result.first_access)}", f"  last      {iso(result.last_access)}",
             "  fields    " + (", ".join(f"{k} ({v:,})" for k, v in result.fields.items()) or "none")]
    lines.append("  daily     date        requests  accounts")
    lines += [f"            {d['date']}  {d['requests']:>8,}  {d['accounts']:>8,}" for d in result.daily]
    return "\n".join(lines)


@click.command()
@workspace_option
@selector_options
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, metavar="FILE",
              help="the notification list (CSV with contact details, mode 0600)")
@click.option("--force", is_flag=True, help=FORCE_HELP)
@click.option("--by", metavar="NAME", default=None, help="who exports it, for the audit trail (default: OS user)")
@click.option("--engine", "backend", type=click.Choice(["duckdb", "spark"]), default=None, help=ENGINE_HELP)
@format_option()
def notify(workspace: Workspace, selector, since, until, out, force, by, backend, fmt):
    """Notification list: affected accounts joined with their contact details, audited."""
    from custodes.respond.notify import export_notification_list
    from custodes.respond.scope import scope as run_scope
    from custodes.safefile import check_target

    check_target(out, force)
    with _engine(workspace, backend) as engine:
        result = run_scope(engine, workspace, selector, since, until)
        entry = export_notification_list(engine, workspace, result, out, by=by, force=force)
    if fmt == "json":
        emit_json(entry)
    else:
        echo(f"wrote {plural(entry['rows'], 'person')} to notify to {out} (mode 0600); "
             f"{entry['without_contact']:,} without contact details; export recorded in the audit trail")


@click.command()
@workspace_option
@click.option("--incident", metavar="ID", default=None, help="the incident to report (see `custodes incidents`)")
@click.option("--doc", type=click.Choice(["pipc", "gdpr33", "notice", "annex"]), default="pipc", show_default=True,
              help="pipc: the PIPC report; gdpr33: GDPR Art. 33 notification; notice: the customer notice "
                   "(a sample letter, or with --format csv the mail-merge file); annex: the technical annex")
@click.option("--lang", type=click.Choice(["ko", "en"]), default=None,
              help="language (default: ko for pipc and notice, en for gdpr33 and annex)")
@click.option("--format", "fmt", type=click.Choice(["md", "html", "pdf", "json", "csv"]), default="md",
              show_default=True, help="json: the document's fields (on stdout without --out); csv: notice only")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
              help="where to write it (default: WORKSPACE/respond/reports/ID-DOC-LANG.FORMAT); mode 0600")
@click.option("--force", is_flag=True, help=FORCE_HELP)
@click.option("--discovered-at", "discovered_at", metavar="TIME", default=None,
              help="when the breach was discovered (RFC 3339); the deadlines count from it")
@click.option("--check", is_flag=True, help="write nothing; exit 1 naming each field a draft still lacks")
@click.option("--engine", "backend", type=click.Choice(["duckdb", "spark"]), default=None, help=ENGINE_HELP)
def report(workspace: Workspace, incident, doc, lang, fmt, out, force, discovered_at, check, backend):
    """Breach documents for an incident: PIPC report, GDPR notification, customer notice, annex."""
    from custodes.respond import documents, report as reports
    from custodes.respond.settings import load
    from custodes.safefile import check_target

    discovered = parse_time_option(discovered_at, "--discovered-at")
    if check:
        missing = reports.missing_fields(load(workspace), discovered is not None)
        if missing:
            raise CustodesError("the documents are drafts until these are set: "
                                + "; ".join(reports.REQUIRED[m] for m in missing))
        echo("ready: organisation, privacy officer and discovery time are set")
        return
    if incident is None:
        raise UsageError("--incident is required (unless --check)")
    lang = documents.check(doc, lang, fmt)
    if out is not None:
        check_target(out, force)
    with _engine(workspace, backend) as engine:
        built = reports.build(engine, workspace, incident, discovered_at=discovered, people=doc == "notice")
    for message in built.notes:
        note(f"note: {message}")
    if built.missing:
        note("note: a draft until " + "; ".join(reports.REQUIRED[m] for m in built.missing) + " (report --check)")
    if fmt == "json" and out is None:
        from custodes.respond.audit import audit

        emit_json(documents.context(built, doc, lang))
        audit(workspace, "report", incident_id=incident, document=doc, lang=lang, format=fmt, path=None)
        return
    echo(str(documents.write(workspace, built, doc, lang, fmt, out, force=force)))


@click.command()
@workspace_option
@click.argument("employee_id")
@click.option("--apply", "do_apply", is_flag=True, help="record the plan in the workspace and push revocations")
@click.option("--ledger", metavar="URL", default=None,
              help="guard ledger to push revocations to (default: guard.ledger in custodes.yaml)")
@click.option("--revoke-keys", is_flag=True,
              help="with --apply, also revoke the keys by kid (only once replacement keys are serving)")
@click.option("--by", metavar="NAME", default=None, help="who applies it, for the record (default: OS user)")
@click.option("--engine", "backend", type=click.Choice(["duckdb", "spark"]), default=None, help=ENGINE_HELP)
@format_option()
def offboard(workspace: Workspace, employee_id, do_apply, ledger, revoke_keys, by, backend, fmt):
    """What must be revoked and rotated when that person leaves; --apply does it."""
    from custodes.respond import offboard as off

    if (ledger or revoke_keys) and not do_apply:
        raise UsageError("--ledger and --revoke-keys only make sense with --apply")
    with _engine(workspace, backend) as engine:
        plan = off.plan(engine, workspace, employee_id)
    record = None
    if do_apply:
        url = ledger or workspace.setting("guard.ledger", None)
        ledger_obj = _open_ledger(url) if url else None
        try:
            record = off.apply(workspace, plan, ledger=ledger_obj, revoke_keys=revoke_keys, by=by)
        finally:
            if ledger_obj is not None:
                ledger_obj.close()
        if not url:
            note("note: no guard ledger configured (--ledger or guard.ledger): revocations recorded, not pushed")
    if fmt == "json":
        emit_json({"plan": plan.to_json(), "applied": record})
    else:
        echo(offboard_text(plan, record))


def _open_ledger(url: str):
    # A mistyped sqlite: path must not become a fresh, empty ledger that "took" the revocations
    # while the guard goes on reading the real one: only `guard ledger load` creates a ledger.
    return open_ledger(url, create=False)


def offboard_text(plan, record) -> str:
    ended = iso(plan.terminated_at) if plan.terminated_at else "still employed"
    lines = [f"Offboarding {plan.employee_id}" + (f" ({plan.name})" if plan.name else "")
             + f": terminated {ended}; as of {iso(plan.as_of)} (data time)"]
    lines.append(f"  credentials to revoke: {len(plan.credentials)}")
    lines += [f"    {c['credential_id']} ({c['credential_type']}): {plural(c['requests'], 'request')}, "
              f"{c['requests_after_termination']:,} after termination, last used {iso(c['last_used']) or 'never'}"
              for c in plan.credentials]
    if plan.already_revoked:
        lines.append(f"  already revoked or expired: {', '.join(plan.already_revoked)}")
    lines.append(f"  keys to rotate: {len(plan.keys)}")
    for k in plan.keys:
        lines.append(f"    {k['kid']} ({k['alg']}, {k['storage']}): live issued tokens {_q(k['live_issued_tokens'])}, "
                     f"tokens seen 7d {_q(k['tokens_seen_7d'])}, never issued {_q(k['unissued_tokens_seen'])}")
    lines.append(f"  sessions to end: {len(plan.sessions)}")
    lines += [f"    {s}" for s in plan.sessions[:50]]
    if len(plan.sessions) > 50:
        lines.append(f"    ... {len(plan.sessions) - 50} more (--format json lists them all)")
    lines += [f"  note: {n}" for n in plan.notes]
    if record is not None:
        pushed = f"pushed {plural(len(record['pushed']), 'revocation')} to the ledger" if record["pushed_to_ledger"] \
            else "no ledger: nothing pushed"
        lines.append(f"Applied: recorded in {record['path']}; {pushed}")
    elif not plan.empty:
        lines.append(f"Run `{shell_command('custodes', 'offboard', plan.employee_id, '--apply')}` to record it "
                     "and push the revocations.")
    return "\n".join(lines)


def _q(value) -> str:
    return "?" if value is None else f"{value:,}"
