"""The notification list: who must be told, and how to reach them.

Contact details are personal data, so the affected accounts are joined with ``customers`` only
here, at export time, inside the engine; the file is created 0600 and every export is written to
the audit trail (who, when, which scope, how many rows, the file's SHA-256), never the contents.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from custodes.errors import CustodesError
from custodes.respond.audit import audit
from custodes.respond.scope import Scope, accounts_table, iso_strings, write_csv_rows
from custodes.respond.selector import optional_table
from custodes.safefile import output_file
from custodes.workspace import Workspace

if TYPE_CHECKING:
    from custodes.engine import Engine

HEADER = ("account_id", "name", "email", "phone", "fields", "first_access", "last_access")


def notification_rows(engine: Engine, result: Scope):
    """Affected accounts with their contact details (left join: an account without a directory
    entry stays on the list, with empty contacts, so nobody is silently dropped)."""
    customers = optional_table(engine, "customers")
    if customers is None:
        raise CustodesError("the workspace holds no customers data: ingest the contact directory to export a notification list")
    affected = accounts_table(engine, result)
    acct = engine.register("_respond_affected", affected)
    contacts = customers.select("account_id", "name", "email", "phone")
    joined = acct.left_join(contacts, acct.account_id == contacts.account_id).select(
        account_id=acct.account_id, name=contacts.name, email=contacts.email, phone=contacts.phone,
        fields=acct.fields, first_access=acct.first_access, last_access=acct.last_access,
    ).order_by("account_id")
    return engine.to_arrow(joined)


def export_notification_list(engine: Engine, workspace: Workspace, result: Scope, out: Path, by: str | None = None,
                             force: bool = False) -> dict:
    """Write the list to ``out`` as :func:`custodes.safefile.output_file` does (0600; an existing
    file only with ``force``; cells that start like a formula neutralised) and audit it."""
    table = notification_rows(engine, result)
    cols = [table.column(c) for c in HEADER[:5]] + [iso_strings(table.column(c)) for c in HEADER[5:]]
    out = Path(out)
    with output_file(out, force=force) as fh:
        fh.write(",".join(HEADER) + "\n")
        write_csv_rows(fh, cols)  # names may hold commas or quotes: quoted where needed
    no_contact = pc.and_(pc.is_null(table.column("email")), pc.is_null(table.column("phone")))
    missing = pc.sum(pc.cast(no_contact, pa.int64())).as_py() or 0
    entry = audit(workspace, "notification_list", by=by, selector=result.selector.as_dict(),
                  since=result.since, until=result.until, rows=table.num_rows, without_contact=missing,
                  path=str(out.resolve()), sha256=fh.sha256)
    return entry
