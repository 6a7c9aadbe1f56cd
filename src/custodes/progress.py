"""Progress bars on long steps (ingest per file, detect per rule, the demo's watch cycles), for a
person at a terminal only.

A bar is drawn on stderr, and only when stderr is a terminal: never into a pipe, a log, a
captured test output or stdout (which holds ``--format json`` and nothing else). The
environment variable ``CUSTODES_PROGRESS`` overrides that: ``always`` draws it even when stderr
is not a terminal (``script``, tests), ``never`` never draws it.

Library code takes a :class:`Bar` and calls it per file, per batch or per rule, never per row;
:data:`QUIET` is the bar that draws nothing, so library code needs no ``if``. Whatever a bar
shows may come from an attacker (a file's name, a rule id from an operator's rules folder): it
is shown as plain text, never as Rich markup, with terminal escapes defused.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Column
from rich.text import Text

from custodes.clikit import terminal_safe

ENV = "CUSTODES_PROGRESS"


def enabled() -> bool:
    """Whether a bar is drawn: stderr is a terminal, unless ``CUSTODES_PROGRESS`` says otherwise."""
    setting = os.environ.get(ENV, "auto").strip().lower()
    if setting == "never":
        return False
    return setting == "always" or sys.stderr.isatty()


class Bar:
    """What library code calls: ``start`` once, then ``item`` / ``rows`` / ``done`` per unit."""

    def start(self, total: float | None) -> None:
        """``total`` units (files, rules, hours) to come; None when unknown."""

    def item(self, name: str) -> None:
        """The unit now worked on (a file's path, a rule's id), shown beside the bar."""

    def rows(self, n: int) -> None:
        """``n`` more rows read (per batch): the bar shows rows and rows per second."""

    def done(self, n: int = 1) -> None:
        """``n`` units finished."""

    def to(self, completed: float, name: str | None = None) -> None:
        """Set how far the work is (the demo: hours of data time replayed)."""


QUIET = Bar()


class _Rows(ProgressColumn):
    """Rows so far and rows per second since the bar started (shown once rows are counted)."""

    def render(self, task) -> Text:
        rows = task.fields.get("rows", 0)
        if not rows:
            return Text("")
        rate = rows / task.elapsed if task.elapsed else 0.0
        return Text(f"{rows:,} rows, {rate:,.0f} rows/s")


class _Rich(Bar):
    def __init__(self, progress: Progress):
        self.progress = progress
        self.task = progress.add_task("", total=None, rows=0, name="")

    def start(self, total: float | None) -> None:
        self.progress.update(self.task, total=total)

    def item(self, name: str) -> None:
        self.progress.update(self.task, name=_plain(name))

    def rows(self, n: int) -> None:
        task = self.progress.tasks[self.task]
        self.progress.update(self.task, rows=task.fields.get("rows", 0) + n)

    def done(self, n: int = 1) -> None:
        self.progress.advance(self.task, n)

    def to(self, completed: float, name: str | None = None) -> None:
        if name:
            self.progress.update(self.task, completed=completed, name=_plain(name))
        else:
            self.progress.update(self.task, completed=completed)


def _plain(text: str) -> str:
    """One line without escape sequences: a file named ``\\x1b]0;…`` retitles no terminal."""
    return terminal_safe(str(text)).replace("\n", " ")


def _columns(title: str, unit: str) -> list:
    """Fixed columns first, whole; the item's name last, cut with an ellipsis to what is left."""
    return [TextColumn(_plain(title), markup=False, table_column=Column(no_wrap=True)), BarColumn(bar_width=20),
            MofNCompleteColumn(table_column=Column(no_wrap=True)),
            TextColumn(unit, markup=False, table_column=Column(no_wrap=True)),
            _Rows(table_column=Column(no_wrap=True)), TimeElapsedColumn(),
            TextColumn("{task.fields[name]}", markup=False,
                       table_column=Column(no_wrap=True, overflow="ellipsis", ratio=1))]


@contextlib.contextmanager
def shown(title: str, unit: str = "") -> Iterator[Bar]:
    """A bar titled ``title`` on stderr while the block runs, when :func:`enabled`; else
    :data:`QUIET`. It is removed when the block ends (what it reported is in the command's
    own output). ``unit`` names what is counted: "files", "rules", "hours". What the command
    writes to stderr meanwhile is printed above the bar; stdout too when it is the same
    screen (a terminal), and left alone when it goes to a file or a pipe."""
    if not enabled():
        yield QUIET
        return
    console = Console(file=sys.stderr, force_terminal=True)  # forced: CUSTODES_PROGRESS=always
    with Progress(*_columns(title, unit), console=console, transient=True,
                  redirect_stdout=sys.stdout.isatty(), redirect_stderr=True) as progress:
        yield _Rich(progress)
