"""``custodes config check``: is custodes.yaml what custodes reads?"""

from __future__ import annotations

import click

from custodes.clikit import (
    WORKSPACE_HELP,
    echo,
    emit_json,
    format_option,
    given_workspace,
)
from custodes.errors import CustodesError


@click.group()
def config():
    """The workspace's configuration (WORKSPACE/custodes.yaml)."""


@config.command("check")
@click.option("--workspace", "workspace_dir", default=None, metavar="DIR", help=WORKSPACE_HELP)
@format_option()
def check(workspace_dir, fmt):
    """Check custodes.yaml: OK and the file, or every problem, one line each (exit 1)."""
    from custodes.config import check as run

    workspace = given_workspace(click.get_current_context(), workspace_dir, check=False)
    problems = run(workspace)
    path = workspace.config_path
    if fmt == "json":
        emit_json({"file": str(path), "exists": path.exists(), "ok": not problems, "problems": problems})
    elif problems:
        for line in problems:
            echo(line)
    else:
        echo(f"OK {path}" + ("" if path.exists() else " (absent: every setting has its default)"))
    if problems:
        raise CustodesError(f"{len(problems)} problem(s) in {path}")
