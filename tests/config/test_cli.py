"""The command line: a workspace that does not exist, `custodes config check`, and
`findings --rule` with an id no rule has."""

from __future__ import annotations

import json

import pytest

from custodes.cli import COMMANDS, main
from tests.config.conftest import configure

#: a minimal valid invocation of each command that reads a workspace (the workspace aside)
READERS = {
    "status": ["status"],
    "quarantine": ["quarantine"],
    "verify": ["verify"],
    "detect": ["detect"],
    "findings": ["findings"],
    "incidents": ["incidents"],
    "suppress": ["suppress", "--list"],
    "alerts": ["alerts"],
    "scope": ["scope", "--kid", "k-2019"],
    "report": ["report", "--check"],
    "notify": ["notify", "--kid", "k-2019", "--out", "notify.csv"],
    "offboard": ["offboard", "e-1"],
    "serve": ["serve", "--list-users"],
    "config": ["config", "check"],
    "rules": ["rules", "list"],
}
#: commands that put data in a workspace and create a missing one, and those that use none
CREATORS = {"ingest", "demo", "watch"}  # and `guard serve`, under guard
NO_WORKSPACE = {"simulate", "guard"}


def run(argv, capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_workspace_that_does_not_exist_is_an_error_and_is_not_created(name, tmp_path, capsys, monkeypatch):
    """A cron job's `custodes verify --workspace /srv/custodes-typo` used to create an empty
    workspace and say OK, for ever. Every command but those that load data refuses it."""
    if name in CREATORS | NO_WORKSPACE:
        assert name not in READERS
        return
    assert name in READERS, f"custodes {name}: add it to READERS (or to CREATORS)"
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "custodes-typo"
    code, _, err = run([*READERS[name], "--workspace", str(missing)], capsys)
    assert code == 1 and f"workspace {missing} (--workspace) does not exist" in err, err
    assert "Traceback" not in err and not missing.exists()
    monkeypatch.setenv("CUSTODES_WORKSPACE", str(missing))  # what a unit or a cron job sets
    code, _, err = run(READERS[name], capsys)
    assert code == 1 and "($CUSTODES_WORKSPACE) does not exist" in err and not missing.exists()


@pytest.mark.parametrize("argv", [["incidents", "ack", "i-1"], ["alerts", "send"], ["alerts", "test"],
                                  ["incidents", "show", "i-1"]])
def test_subcommands_refuse_a_missing_workspace_too(argv, tmp_path, capsys):
    missing = tmp_path / "nope"
    code, _, err = run([*argv, "--workspace", str(missing)], capsys)
    assert code == 1 and "does not exist" in err and not missing.exists()


def test_ingest_still_creates_its_workspace(tmp_path, capsys):
    (tmp_path / "roster.csv").write_text("employee_id,hired_at\ne-1,2020-01-01T00:00:00Z\n")
    fresh = tmp_path / "fresh"
    code, _, err = run(["ingest", "workforce", str(tmp_path / "roster.csv"), "--workspace", str(fresh)], capsys)
    assert code == 0, err
    assert fresh.is_dir() and (fresh.stat().st_mode & 0o777) == 0o700


def test_every_command_checks_the_configuration_first(workspace, capsys):
    configure(workspace, "seal:\n  signing_kee: /etc/custodes/seal.pem\n")
    code, _, err = run(["status", "--workspace", str(workspace.root)], capsys)
    assert code == 1
    assert f"{workspace.config_path}: seal.signing_kee: unknown key; did you mean seal.signing_key?" in err


def test_config_check_says_ok_and_names_the_file(workspace, capsys):
    code, out, _ = run(["config", "check", "--workspace", str(workspace.root)], capsys)
    assert code == 0 and out.strip() == f"OK {workspace.config_path} (absent: every setting has its default)"
    configure(workspace, "engine: duckdb\ndetect: {source_min_accounts: 60}\n")
    code, out, _ = run(["--workspace", str(workspace.root), "config", "check"], capsys)
    assert code == 0 and out.strip() == f"OK {workspace.config_path}"


def test_config_check_prints_every_problem_one_line_each(workspace, capsys, outside=None):
    configure(workspace, """\
        detect: {rule_dir: rules, source_min_acounts: 5}
        organisation: Example
        seal: {anchor: relative.jsonl}
        """)
    code, out, err = run(["config", "check", "--workspace", str(workspace.root)], capsys)
    assert code == 1 and "3 problem(s)" in err
    assert out.splitlines() == [
        f"{workspace.config_path}: organisation: unknown key; did you mean respond.organization?",
        f"{workspace.config_path}: detect.rule_dir: unknown key; did you mean detect.rules_dir?",
        f"{workspace.config_path}: detect.source_min_acounts: unknown key; did you mean detect.source_min_accounts?",
    ]
    configure(workspace, "seal: {anchor: relative.jsonl}\n")  # the schema holds; the anchor's own check does not
    code, out, _ = run(["config", "check", "--workspace", str(workspace.root), "--format", "json"], capsys)
    report = json.loads(out)
    assert code == 1 and report["ok"] is False and report["exists"] is True
    assert report["file"] == str(workspace.config_path)
    assert len(report["problems"]) == 1 and "seal.anchor file 'relative.jsonl' must be an absolute path" in report["problems"][0]


def test_config_check_reports_a_file_that_is_not_yaml(workspace, capsys):
    configure(workspace, "detect: [unclosed\n")
    code, out, _ = run(["config", "check", "--workspace", str(workspace.root)], capsys)
    assert code == 1 and f"{workspace.config_path}: not valid YAML" in out


def findings_stored(workspace):
    from custodes.detect import store

    store.save(workspace, [], [])


def test_findings_rule_with_an_unknown_id_is_an_error(workspace, capsys):
    """`findings --rule token.unisued` printed no finding: read as "the forgery rule found
    nothing". An id no rule has is now an error with the nearest one."""
    findings_stored(workspace)
    code, _, err = run(["findings", "--rule", "token.unisued", "--workspace", str(workspace.root)], capsys)
    assert code == 2 and "no rule has the id 'token.unisued'; did you mean token.unissued?" in err
    code, out, _ = run(["findings", "--rule", "token.unissued", "--workspace", str(workspace.root),
                        "--format", "json"], capsys)
    assert code == 0 and json.loads(out) == []


def test_commands_that_run_no_rule_never_import_the_operators_rules(workspace, capsys):
    """Checking the thresholds only an operator's rule declares would mean importing the
    workspace's Python: W could then run code as whoever runs `custodes verify` from cron."""
    marker = workspace.root / "imported"
    folder = workspace.root / "rules"
    folder.mkdir()
    (folder / "spy.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    configure(workspace, "detect: {rules_dir: rules, spy_threshold: 3}\n")
    for argv in (["verify"], ["status"], ["quarantine"], ["alerts"]):
        code, _, err = run([*argv, "--workspace", str(workspace.root)], capsys)
        assert code == 0, err
    assert not marker.exists()
    code, out, _ = run(["config", "check", "--workspace", str(workspace.root)], capsys)
    assert marker.exists()  # config check does load them (it is asked to check them)
    assert code == 1 and "detect.spy_threshold: unknown key" in out
