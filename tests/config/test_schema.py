"""custodes.yaml checked against its schema: what an operator's typo, or an insider's edit,
used to do without a word (issue 17 item 7)."""

from __future__ import annotations

import pytest

from custodes.config import check, problems
from custodes.config.types import Positive
from custodes.detect.registry import all_rules, builtin_rules
from custodes.detect.rule import Rule
from custodes.errors import CustodesError
from tests.config.conftest import OPERATOR_RULE, configure


def lines(raw: dict) -> list[str]:
    return [p.text for p in problems(raw)]


def test_every_section_is_checked_and_every_problem_is_one_line_naming_the_key(workspace):
    configure(workspace, """\
        engine: spak
        seal: {anchor: {fil: /var/anchor.jsonl}, signing_key: 5}
        ingest: {time_window: {ahead_days: soon}}
        posture: {key_max_age_days: -1}
        guard: {ledger: ""}
        console: {url: "ftp://x", trusted_proxies: ["10.0.0.0/8", "not-an-address"]}
        respond: {privacy_officer: {nam: Kim}}
        alerts: {sinks: [{type: email, host: mail, to: [soc@example.com], frm: x@example.com}]}
        sources: [{dataset: access, path: /x, quiet: 0}]
        """)
    found = check(workspace)
    assert all(line.startswith(f"{workspace.config_path}: ") and "\n" not in line for line in found)
    text = "\n".join(found)
    for expected in ["engine: Input should be 'duckdb' or 'spark'",
                     "seal.anchor.fil: unknown key; did you mean seal.anchor.file?",
                     "seal.signing_key: expected text",
                     "ingest.time_window.ahead_days: expected a number",
                     "posture.key_max_age_days: Input should be greater than 0",
                     "guard.ledger: String should have at least 1 character",
                     "console.url: String should match pattern",
                     "console.trusted_proxies[1]: not an IP address or network",
                     "respond.privacy_officer.nam: unknown key; did you mean respond.privacy_officer.name?",
                     "alerts.sinks[0] (email).frm: unknown key; did you mean alerts.sinks[0] (email).from?",
                     "alerts.sinks[0] (email).from: Field required",
                     "sources[0] (access).quiet: unknown key; did you mean sources[0] (access).quiet_seconds?"]:
        assert expected in text, f"{expected!r} not in:\n{text}"
    assert len(found) == 12


def test_a_value_is_never_echoed(workspace):
    """A password pasted under a misspelt key must not reach a log through the error."""
    configure(workspace, "alerts:\n  sinks:\n    - {type: email, host: h, to: [a@b], from: c@d, passwd: hunter2-secret}\n")
    assert "hunter2" not in "\n".join(check(workspace))


def test_a_problem_in_one_section_stops_its_readers_not_the_others(workspace):
    """`custodes watch` keeps detecting when an alert sink is misspelt (the cycle reports it);
    an unknown top-level key, which may be any section misspelt, stops every reader."""
    configure(workspace, "alerts: {sinks: [{type: file, paht: /x}]}\ndetect: {source_min_accounts: 60}\n")
    assert workspace.setting("detect.source_min_accounts") == 60
    with pytest.raises(CustodesError, match=r"alerts\.sinks\[0\] \(file\)\.paht: unknown key; did you mean"):
        workspace.setting("alerts")
    with pytest.raises(CustodesError):
        workspace.config()
    configure(workspace, "detect: {source_min_accounts: 60}\nalert: {}\n")
    with pytest.raises(CustodesError, match="alert: unknown key; did you mean alerts"):
        workspace.setting("detect.source_min_accounts")


def test_the_file_is_read_once_per_version_and_edits_are_seen(workspace, monkeypatch):
    import custodes.workspace as module

    reads = []
    real = module.load_yaml
    monkeypatch.setattr(module, "load_yaml", lambda *a, **k: reads.append(1) or real(*a, **k))
    configure(workspace, "detect: {source_min_accounts: 60}\n")
    for _ in range(5):
        assert workspace.setting("detect.source_min_accounts") == 60
    assert len(reads) == 1
    configure(workspace, "detect: {source_min_accounts: 70, origin_min_accounts: 30}\n")
    assert workspace.setting("detect.source_min_accounts") == 70  # a running service sees the edit
    assert len(reads) == 2


def test_an_operator_rule_declares_its_thresholds(workspace, operator_rules):
    """Keys only the operator's rules declare are checked once their code is loaded: never by
    commands that do not run rules (verify must not run workspace code)."""
    configure(workspace, "detect:\n  rules_dir: rules\n  admin_min_requests: 3\n")
    assert workspace.config()["detect"]["admin_min_requests"] == 3
    assert "custom.admin_export" in {r.id for r in all_rules(workspace)}
    configure(workspace, "detect:\n  rules_dir: rules\n  admin_min_reqests: 3\n")
    workspace.config()  # not checkable without running the operator's code
    with pytest.raises(CustodesError, match=r"detect\.admin_min_reqests: unknown key; did you mean detect\.admin_min_requests\?"):
        all_rules(workspace)
    assert any("admin_min_reqests" in line for line in check(workspace))
    configure(workspace, "detect:\n  rules_dir: rules\n  admin_min_requests: none\n")
    with pytest.raises(CustodesError, match=r"detect\.admin_min_requests: expected a whole number"):
        all_rules(workspace)


def test_every_threshold_a_builtin_rule_reads_is_declared():
    """`ctx.setting(NAME, ...)` in a rule module must be one of its rules' parameters: an
    undeclared one would be refused as unknown when an operator sets it."""
    import inspect
    import re

    for rule in builtin_rules():
        source = inspect.getsource(inspect.getmodule(rule))
        read = set(re.findall(r"ctx\.setting\(\"([a-z_]+)\"", source))
        declared = {name for r in builtin_rules() if r.__module__ == rule.__module__ for name in r.parameters}
        assert read <= declared, f"{rule.__module__} reads {sorted(read - declared)} without declaring them"
    assert {"source_min_accounts", "origin_min_accounts", "slow_min_accounts", "bulk_min_records",
            "key_max_age_days"} <= {n for r in builtin_rules() for n in r.parameters}


def test_a_rule_declaring_a_fixed_key_is_refused(workspace, operator_rules):
    (operator_rules / "bad.py").write_text(OPERATOR_RULE.replace("AdminExport", "Bad").replace(
        "custom.admin_export", "custom.bad").replace('"admin_min_requests": Positive', '"rules_dir": Positive'))
    configure(workspace, "detect:\n  rules_dir: rules\n")
    with pytest.raises(CustodesError, match="custom.bad declares the parameter 'rules_dir'"):
        all_rules(workspace)


def test_the_documented_example_configuration_passes(workspace):
    """README's and the docs' examples are what an operator copies: they must pass."""
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2]
    doc = (root / "docs" / "config.md").read_text()
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert lines(yaml.safe_load(example)) == []


def test_no_configuration_is_fine(workspace):
    assert workspace.config() == {} and check(workspace) == []
    assert Positive is not None and Rule.parameters == {}


def test_the_alert_severities_are_detections():
    from custodes.alerts.config import SEVERITIES as ALERTS
    from custodes.detect.rule import SEVERITIES

    assert ALERTS == SEVERITIES


def test_the_configuration_a_replay_and_the_demo_write_passes(tmp_path):
    """`custodes demo` and the replays write custodes.yaml themselves: it must be one the
    schema takes (the demo would otherwise stop at its first command)."""
    from custodes.watch.replay import configuration

    sim = tmp_path / "world"
    for name in ("access", "issuance"):
        (sim / name).mkdir(parents=True)
    assert lines(configuration(sim, tmp_path / "feed", tmp_path / "alerts.jsonl")) == []
