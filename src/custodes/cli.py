"""The ``custodes`` command line: a thin layer over the library.

Commands live beside the capability they drive (``custodes/<capability>/commands.py``) and are
imported only when invoked, so ``custodes guard verify`` does not pay for Spark or DuckDB.
"""

from __future__ import annotations

import importlib
import sys

import click

from custodes import __version__
from custodes.clikit import WORKSPACE_HELP, Context, echo, whole_word_help
from custodes.errors import CustodesError

#: command name -> "module:attribute" of its click command. The order is the order of --help.
COMMANDS: dict[str, str] = {
    "demo": "custodes.demo:demo",
    "simulate": "custodes.simulate.commands:simulate",
    "ingest": "custodes.lake.commands:ingest",
    "status": "custodes.lake.commands:status",
    "quarantine": "custodes.lake.commands:quarantine",
    "verify": "custodes.lake.commands:verify",
    "guard": "custodes.guard.commands:guard",
    "detect": "custodes.detect.commands:detect",
    "findings": "custodes.detect.commands:findings",
    "incidents": "custodes.detect.commands:incidents",
    "rules": "custodes.detect.rulecommands:rules",
    "suppress": "custodes.triage.commands:suppress",
    "watch": "custodes.watch.commands:watch",
    "alerts": "custodes.alerts.commands:alerts",
    "scope": "custodes.respond.commands:scope",
    "report": "custodes.respond.commands:report",
    "notify": "custodes.respond.commands:notify",
    "offboard": "custodes.respond.commands:offboard",
    "serve": "custodes.console.commands:serve",
    "config": "custodes.config.commands:config",
}


class LazyGroup(click.Group):
    context_class = Context  # help wraps at spaces only (clikit.HelpFormatter)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return whole_word_help(getattr(importlib.import_module(module), attr))


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--workspace", "workspace_dir", default=None, metavar="DIR", help=WORKSPACE_HELP)
@click.version_option(__version__, prog_name="custodes")
def cli(workspace_dir: str | None) -> None:
    """custodes: stops insiders and ex-insiders from quietly draining customer data,
    and scopes a breach exactly when one happens."""


def main(argv: list[str] | None = None) -> None:
    """Entry point: exit 0 on success, 1 when the input was bad, 2 on wrong usage."""
    try:
        cli.main(args=argv, prog_name="custodes", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("custodes: aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:  # usage errors: exit 2 (click's own code)
        exc.show()
        sys.exit(exc.exit_code)
    except CustodesError as exc:
        echo(f"custodes: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    sys.exit(0)
