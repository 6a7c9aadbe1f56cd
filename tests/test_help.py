"""``--help`` at any terminal width cuts no word in two: "k ey_custody" in the usage line of
``custodes ingest`` at 80 columns, ``./custodes- data`` and ``source_ column`` when narrower."""

from __future__ import annotations

import inspect

import click
import pytest
from click.testing import CliRunner

from custodes.cli import cli


def _commands(group: click.Group, ctx: click.Context, path=()):
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, ctx, (*path, name))


COMMANDS = list(_commands(cli, click.Context(cli)))


def _words(command: click.Command) -> set[str]:
    """Every word the command's own help texts hold: each must come out whole."""
    texts = [inspect.cleandoc(command.help or "").split("\f")[0], command.epilog or ""]
    texts += [p.help or "" for p in command.params if isinstance(p, click.Option)]
    return {w for t in texts for w in t.split() if w != "\b"}


@pytest.mark.parametrize("width", [40, 60, 80])
@pytest.mark.parametrize("path,command", COMMANDS, ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_help_wraps_between_words_only(path, command, width):
    result = CliRunner().invoke(cli, [*path, "--help"], terminal_width=width)
    assert result.exit_code == 0, result.output
    shown = set(result.output.split())
    cut = sorted(w for w in _words(command) if w not in shown)
    assert not cut, f"custodes {' '.join(path)} --help at {width} columns cuts: {cut}"


def test_dataset_names_are_whole_in_the_usage_and_the_epilog():
    for width in (40, 80):
        words = CliRunner().invoke(cli, ["ingest", "--help"], terminal_width=width).output.split()
        assert words[:5] == ["Usage:", "cli", "ingest", "[OPTIONS]", "DATASET"]
        assert "key_custody," in words
