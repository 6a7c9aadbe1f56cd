"""Shared pieces of the command line: workspace and format options, JSON output, errors.

Every capability keeps its commands in its own ``commands.py`` built from these, and
``cli.py`` only lists them, so the CLI stays a thin layer over the library.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from custodes.workspace import Workspace

WORKSPACE_HELP = "workspace directory (default: $CUSTODES_WORKSPACE, else ./custodes-data)"


def workspace_option(fn: Callable) -> Callable:
    """``--workspace DIR`` accepted after the command name too; passes ``workspace: Workspace``."""

    @click.option("--workspace", "workspace_dir", default=None, metavar="DIR", help=WORKSPACE_HELP)
    @functools.wraps(fn)
    def wrapper(*args, workspace_dir: str | None = None, **kwargs):
        ctx = click.get_current_context()
        given = workspace_dir or (ctx.find_root().params.get("workspace_dir"))
        return fn(*args, workspace=Workspace.open(given), **kwargs)

    return wrapper


def format_option(*choices: str, default: str = "text") -> Callable:
    choices = choices or ("text", "json")
    return click.option(
        "--format", "fmt", type=click.Choice(choices), default=default, show_default=True,
        help="output format: text for people, json for scripts (stdout holds nothing else)",
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return iso(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def iso(value: dt.datetime | None) -> str | None:
    """RFC 3339 in UTC with a Z, to the second: the form every JSON output uses."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    # isoformat, not strftime: %Y drops the leading zeros of years below 1000 on glibc
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def dumps(obj: Any, indent: int | None = 2) -> str:
    return json.dumps(obj, default=_json_default, indent=indent, ensure_ascii=False)


def emit_json(obj: Any) -> None:
    click.echo(dumps(obj))


def note(message: str) -> None:
    """A message for people, on stderr, so stdout stays clean for --format json."""
    click.echo(message, err=True)


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def parse_time_option(value: str | None, option: str) -> dt.datetime | None:
    """Parse --since/--until: RFC 3339 (zone required unless a bare date) or epoch seconds."""
    if value is None:
        return None
    text = value.strip()
    try:
        if text.lstrip("-").isdigit():
            return dt.datetime.fromtimestamp(int(text), tz=dt.timezone.utc)
        if len(text) == 10:
            return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc)
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an RFC 3339 time or epoch seconds", param_hint=option)
    if parsed.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no time zone; add Z or an offset", param_hint=option)
    return parsed.astimezone(dt.timezone.utc)
