"""Docs that stay true (after Datasette's test_docs): every command and option that CONTRACT.md
and the README promise exists in the CLI, and every CLI command is documented."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from custodes.cli import COMMANDS, cli

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = (ROOT / "docs" / "CONTRACT.md").read_text()
README = (ROOT / "README.md").read_text()


def documented_commands() -> list[tuple[list[str], set[str]]]:
    """[(command path, {--options})] from the command tables of CONTRACT.md §2 and §5."""
    out = []
    for line in CONTRACT.splitlines():
        m = re.match(r"^\| `custodes ([^`]+)`", line)
        if not m:
            continue
        usage = m.group(1)
        words = []
        for word in usage.split():
            if not re.fullmatch(r"[a-z][a-z-]*", word):
                break
            words.append(word)
        options = set(re.findall(r"(--[a-z][a-z-]*)", usage))
        out.append((words, options))
    return out


def resolve(path: list[str]) -> click.Command:
    ctx = click.Context(cli)
    command: click.Command = cli
    for word in path:
        assert isinstance(command, click.Group), f"{' '.join(path)}: {word!r} under a plain command"
        sub = command.get_command(ctx, word)
        if sub is None:
            # A positional argument (e.g. `ledger load ISSUANCE_FILE` lower-cased) ends the path.
            break
        command = sub
    return command


DOCUMENTED = documented_commands()


def test_contract_lists_commands():
    assert len(DOCUMENTED) >= 14


@pytest.mark.parametrize("path,options", DOCUMENTED, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_documented_command_and_options_exist(path, options):
    if path[0] not in COMMANDS:
        pytest.fail(f"CONTRACT.md documents `custodes {' '.join(path)}` but the CLI has no {path[0]!r}")
    command = resolve(path)
    have = {opt for p in command.params for opt in p.opts + p.secondary_opts}
    missing = options - have
    assert not missing, f"`custodes {' '.join(path)}` lacks documented options {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_is_documented(name):
    assert f"custodes {name}" in CONTRACT or f"custodes {name}" in README, (
        f"`custodes {name}` is in the CLI but neither CONTRACT.md nor README.md documents it")


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_takes_workspace_and_help(name):
    command = resolve([name])
    commands = [command] + (list(command.commands.values()) if isinstance(command, click.Group) else [])
    for cmd in commands:
        if isinstance(cmd, click.Group):
            continue
        opts = {o for p in cmd.params for o in p.opts}
        # The guard works on keys and ledgers, and the simulator on its --out directory; every
        # other command reads or writes a workspace.
        if name not in ("guard", "simulate"):
            assert "--workspace" in opts, f"custodes {name} {cmd.name}: no --workspace"


LAKE = (ROOT / "docs" / "lake.md").read_text()


def test_every_quarantine_reason_is_documented_and_every_documented_one_exists():
    from custodes.lake.validate import REASONS

    section = LAKE[LAKE.index("### Validation and quarantine"):LAKE.index("Quarantined rows live in")]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", section, re.MULTILINE))
    assert documented == set(REASONS), f"docs/lake.md reasons {sorted(documented)} vs code {sorted(REASONS)}"


def test_the_ingest_time_window_setting_is_documented_as_the_code_reads_it():
    import datetime as dt

    import yaml

    from custodes.lake.timeparse import TimeWindow

    assert "ingest.time_window" in README and "`earliest`" in README and "`ahead_days`" in README
    example = LAKE[LAKE.index("ingest:\n  time_window:"):]
    setting = yaml.safe_load(example[:example.index("```")])["ingest"]["time_window"]
    window = TimeWindow.from_setting(setting, dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    assert window == TimeWindow.from_setting(None, dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))  # the defaults
