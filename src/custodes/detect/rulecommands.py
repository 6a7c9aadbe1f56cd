"""`custodes rules list` and `custodes rules test`: the rules' metadata, and their fixtures run."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from custodes.clikit import WORKSPACE_HELP, echo, emit_json, format_option, note, open_workspace, terminal_safe
from custodes.detect import ruledocs, ruletest
from custodes.errors import CustodesError
from custodes.text import plural
from custodes.workspace import ENV_WORKSPACE, Workspace, resolve_workspace_path

RULES_DIR_HELP = "a folder of rule modules (*.py) with their fixtures in DIR/fixtures/<rule id>/<name>/"


def _options(fn):
    fn = click.option("--rules-dir", type=click.Path(path_type=Path), default=None, metavar="DIR",
                      help=RULES_DIR_HELP)(fn)
    return click.option("--workspace", "workspace_dir", default=None, metavar="DIR", help=WORKSPACE_HELP)(fn)


def _workspace(own: str | None) -> Workspace | None:
    """The workspace whose own rules (detect.rules_dir) join the built-in ones. Read, never
    created: listing or testing rules needs no workspace, but one named and absent is a typo."""
    ctx = click.get_current_context()
    given = own or ctx.find_root().params.get("workspace_dir")
    if given or os.environ.get(ENV_WORKSPACE) or resolve_workspace_path(None).is_dir():
        return open_workspace(given)  # named and absent: the one error every command gives
    return None


def _sources(workspace_dir, rules_dir) -> tuple[Path | None, Workspace | None]:
    """(--rules-dir, the workspace): only DIR's rules when given, else the workspace's too."""
    if rules_dir is not None and not rules_dir.is_dir():
        raise CustodesError(f"--rules-dir {rules_dir} is not a directory")
    return rules_dir, None if rules_dir is not None else _workspace(workspace_dir)


@click.group()
def rules():
    """The detections: list them, and run the fixtures beside them."""


@rules.command("list")
@_options
@format_option("text", "json", "markdown")
def list_rules(workspace_dir, rules_dir, fmt):
    """The rules with their severity, ATT&CK techniques and the datasets they need."""
    rows = [ruledocs.metadata(r) for r in ruletest.load_rules(*_sources(workspace_dir, rules_dir))[0]]
    if fmt == "json":
        emit_json(rows)
    elif fmt == "markdown":
        echo(ruledocs.rules_markdown(rows))
    elif sys.stdout.isatty():
        _rich_table(rows)
    else:
        for r in rows:
            echo(f"{r['id']:<32} {r['severity']:<8} {','.join(r['attack']) or '-':<24} {ruledocs.needs(r)}")
    note(f"{len(rows)} rules")


def _rich_table(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for name in ("id", "severity", "ATT&CK", "needs", "kind"):  # titles: --format json|markdown
        table.add_column(name, overflow="fold", no_wrap=name in ("id", "severity"))  # ids whole
    for r in rows:  # an operator's rule text goes through terminal_safe like every printed line
        table.add_row(*(terminal_safe(v) for v in (r["id"], r["severity"], ", ".join(r["attack"]),
                                                   ruledocs.needs(r), r["kind"])))
    Console(markup=False, highlight=False).print(table)


@rules.command("test")
@click.argument("rule_ids", nargs=-1, metavar="[ID]...")
@_options
@click.option("--engine", "backend", type=click.Choice(["duckdb", "spark"]), default="duckdb",
              show_default=True, help="query engine the rules run on")
@format_option()
def rules_test(rule_ids, workspace_dir, rules_dir, backend, fmt):
    """Run each rule's fixtures, each in a throwaway workspace through the real ingest, and
    compare its findings with the fixture's expect.yaml. Exit 1 on any failure."""
    suite = ruletest.load_suite(*_sources(workspace_dir, rules_dir)).select(rule_ids)
    for rule_id in suite.untested():
        note(f"{rule_id}: no fixtures")
    if not suite.fixtures:
        raise CustodesError("no fixtures to run" + (f" in {rules_dir}/{ruletest.FIXTURES_DIR}" if rules_dir else ""))
    outcomes = suite.run(backend, progress=None if fmt == "json" else _print_outcome)
    failed = [o for o in outcomes if not o.ok]
    if fmt == "json":
        emit_json([o.to_dict() for o in outcomes])
    else:
        note(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed")
    if failed:
        sys.exit(1)


def _print_outcome(o: ruletest.Outcome) -> None:
    echo(f"{'PASS' if o.ok else 'FAIL'}  {o.rule_id}/{o.fixture}  ({plural(o.found, 'finding')})")
    for problem in o.problems:
        echo(f"      {problem}")
    for f in o.missing:
        echo(f"      missing:    {_compact(f)}")
    for f in o.unexpected:
        echo(f"      unexpected: {_compact(f)}")


def _compact(finding: dict) -> str:
    from custodes.clikit import dumps

    return dumps(finding, indent=None)
