"""The blast-radius panel shared by the incident page and the indicator scope page: what a role
may see of a scope result, and the audit entry that says what was shown."""

from __future__ import annotations

from starlette.requests import Request

from custodes.console import auth
from custodes.console.charts import daily_bars, field_bars
from custodes.console.sources import Outcome


def panel(request: Request, principal: auth.Principal, outcome: Outcome, target: str) -> dict:
    """Template context for the panel; audits the account ids when the role may see them."""
    if not outcome.ok:
        return {"missing": outcome.missing}
    summary, accounts = outcome.data["summary"], outcome.data["accounts"]
    shown = None
    if principal.can("view_accounts") and accounts is not None:
        shown = accounts
        auth.audit(request, principal, "view.accounts", target,
                   accounts_shown=len(shown), accounts_total=summary["accounts"])
    return {
        "missing": None, "summary": summary, "notes": outcome.data["notes"],
        "daily": daily_bars(summary["daily"]) if summary["daily"] else None,
        "fields": field_bars(summary["fields"], summary["accounts"]) if summary["fields"] else None,
        "accounts": shown, "accounts_total": summary["accounts"],
    }


def export_file(request: Request, kind: str, value: str, contacts: bool = False, by: str = ""):
    """Write the accounts CSV (or, with ``contacts``, the notification list) to a private
    temporary file in the console's directory; returns (path, Outcome with the row count).
    The caller streams it and deletes it."""
    import secrets

    from custodes.console.users import console_dir

    sources = request.app.state.console.sources
    path = console_dir(request.app.state.console.workspace) / f".export-{secrets.token_hex(8)}.csv"
    if contacts:
        return path, sources.export_notification(kind, value, path, by)
    return path, sources.export_accounts(kind, value, path)
