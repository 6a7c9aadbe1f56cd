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


def documented_commands(text: str = CONTRACT) -> list[tuple[list[str], set[str]]]:
    """[(command path, {--options})] from the command tables of CONTRACT.md §2 and §5 (or of
    another document's command tables)."""
    out = []
    for line in text.splitlines():
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


AREA_DOCS = {name: documented_commands((ROOT / "docs" / name).read_text())
             for name in ("alerts.md", "config.md", "detect.md", "respond.md", "watch.md")}


@pytest.mark.parametrize("path,options", [c for cmds in AREA_DOCS.values() for c in cmds],
                         ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_area_docs_commands_and_options_exist(path, options):
    test_documented_command_and_options_exist(path, options)


def test_rules_commands_and_their_options_are_documented_and_exist():
    """Issue 17 item 8: `custodes rules list|test` in docs/detect.md and the README's additions,
    every option of theirs documented, and only real ones."""
    for words in (["rules", "list"], ["rules", "test"]):
        have = {o for p in resolve(words).params for o in p.opts if o.startswith("--")} - {"--help", "--workspace"}
        in_detect = set().union(*(opts for path, opts in AREA_DOCS["detect.md"] if path == words))
        in_readme = set().union(*(opts for path, opts in readme_additions() if path == words))
        assert in_detect == have and in_readme == have, (words, have, in_detect, in_readme)


def test_config_doc_documents_config_check_and_every_section():
    from custodes.config.schema import SECTIONS

    (path, options), = AREA_DOCS["config.md"]
    assert path == ["config", "check"] and options == {"--workspace", "--format"}
    doc = (ROOT / "docs" / "config.md").read_text()
    for section in SECTIONS:
        assert f"\n{section}:" in doc, f"docs/config.md's example does not show {section}:"


def test_alerts_doc_lists_its_commands():
    assert len(AREA_DOCS["alerts.md"]) >= 10


def test_watch_doc_documents_every_option_of_watch():
    (path, options), = AREA_DOCS["watch.md"]
    assert path == ["watch"]
    have = {o for p in resolve(["watch"]).params for o in p.opts if o.startswith("--")}
    assert have - {"--help"} == options | {"--workspace"}  # every option, and only real ones


def test_watch_doc_names_every_metric_watch_exports(tmp_path):
    """Every metric family /metrics of a watch holds (alerts' aside) is in docs/watch.md."""
    from prometheus_client import generate_latest

    from custodes.watch.metrics import registry_for
    from custodes.watch.state import Seen, WatchState
    from custodes.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws")
    with WatchState.open(ws) as state:
        state.record_loaded("access", "gw", "/x.csv", Seen(1, 2, 3, 4), seq=1, first_seen=0, since=0, taken_at=0,
                            rows=5, last_time="2025-04-14T10:00:00Z")
        state.put_meta("last_cycle", {"at": 1.0, "ok": True, "seconds": 0.5, "errors": [], "sources": {"gw": True}})
    registry, timings = registry_for(ws)
    timings.cycles.labels("ok")
    text = generate_latest(registry).decode()
    names = {re.sub(r"_(total|bucket|count|sum|created)$", "", m)
             for m in re.findall(r"^# TYPE (custodes_watch_\w+)", text, re.M)}
    assert len(names) >= 12
    doc = (ROOT / "docs" / "watch.md").read_text()
    for name in sorted(names):
        assert f"`{name}" in doc, f"docs/watch.md does not name {name}"


REPORT_OPTIONS = {"--incident", "--doc", "--lang", "--format", "--out", "--force", "--discovered-at", "--check"}


def test_report_options_are_documented_and_exist():
    """Issue 16's report options: in docs/respond.md's table, in the README's additions, and in the CLI."""
    in_respond = set().union(*(opts for path, opts in AREA_DOCS["respond.md"] if path == ["report"]))
    in_readme = set().union(*(opts for path, opts in readme_additions() if path == ["report"]))
    have = {opt for p in resolve(["report"]).params for opt in p.opts}
    assert REPORT_OPTIONS - {"--force"} <= in_respond, REPORT_OPTIONS - in_respond
    assert {"--doc", "--lang", "--discovered-at", "--check"} <= in_readme
    assert REPORT_OPTIONS <= have


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


LAKE_DOC = (ROOT / "docs" / "lake.md").read_text()


def lake_usages() -> list[tuple[list[str], set[str]]]:
    """[(command path, {--options})] from the usage block at the top of docs/lake.md."""
    block = LAKE_DOC.split("```")[1]
    return [([line.split()[1]], set(re.findall(r"(--[a-z][a-z-]*)", line)))
            for line in block.splitlines() if line.startswith("custodes ")]


@pytest.mark.parametrize("path,options", lake_usages(), ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_lake_doc_commands_and_options_exist(path, options):
    have = {opt for p in resolve(path).params for opt in p.opts + p.secondary_opts}
    assert options <= have, f"docs/lake.md documents `custodes {path[0]}` options {sorted(options - have)} it lacks"


def test_verify_takes_the_options_of_contract_section_6():
    section = " ".join(CONTRACT.split("## 6.")[1].split("## 7.")[0].split())
    documented = set(re.findall(r"`custodes verify (--[a-z][a-z-]*)", section))
    assert documented == {"--expect-head", "--anchor"}
    have = {opt for p in resolve(["verify"]).params for opt in p.opts}
    assert documented | {"--public-key", "--sign"} <= have

def readme_additions() -> list[tuple[list[str], set[str]]]:
    """[(command path, {--options})] from the `custodes ...` code spans of README.md's
    "Additions to the contract"."""
    section = README.split("### Additions to the contract", 1)[1].split("\n## ", 1)[0]
    out = []
    for span in re.findall(r"`(custodes [^`]+)`", section):
        words = []
        for word in span.split()[1:]:
            if not re.fullmatch(r"[a-z][a-z-]*", word):
                break
            words.append(word)
        options = set(re.findall(r"(--[a-z][a-z-]*)", span))
        if options:
            out.append((words, options))
    return out


@pytest.mark.parametrize("path,options", readme_additions(), ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_options_added_in_the_readme_exist(path, options):
    command = resolve(path)
    have = {opt for p in command.params for opt in p.opts + p.secondary_opts}
    assert not options - have, f"README documents `custodes {' '.join(path)}` {sorted(options - have)}, which it lacks"


def test_every_quarantine_reason_is_documented_and_every_documented_one_exists():
    from custodes.lake.validate import REASONS

    section = LAKE_DOC[LAKE_DOC.index("### Validation and quarantine"):LAKE_DOC.index("Quarantined rows live in")]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", section, re.MULTILINE))
    assert documented == set(REASONS), f"docs/lake.md reasons {sorted(documented)} vs code {sorted(REASONS)}"


def test_the_ingest_time_window_setting_is_documented_as_the_code_reads_it():
    import datetime as dt

    import yaml

    from custodes.lake.timeparse import TimeWindow

    assert "ingest.time_window" in README and "`earliest`" in README and "`ahead_days`" in README
    example = LAKE_DOC[LAKE_DOC.index("ingest:\n  time_window:"):]
    setting = yaml.safe_load(example[:example.index("```")])["ingest"]["time_window"]
    window = TimeWindow.from_setting(setting, dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    assert window == TimeWindow.from_setting(None, dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))  # the defaults


OUTPUT_DOC = (ROOT / "docs" / "output.md").read_text()


def test_the_progress_switch_is_documented_as_the_code_reads_it():
    from custodes import progress

    for doc in (OUTPUT_DOC, README):
        assert f"{progress.ENV}=always" in doc and "never" in doc
    assert re.search(r"`CUSTODES_PROGRESS=never` never draws it", OUTPUT_DOC)


def test_the_output_doc_shows_what_the_text_helpers_write():
    from custodes.text import percent, plural

    for written in (plural(1, "token"), plural(48211, "token"), plural(2, "entry"), percent(0.82)):
        assert written in OUTPUT_DOC, written
