"""Rule fixtures and `custodes rules test`: every built-in rule passes its own fixtures, and the
check fails when a rule, a fixture or its events are wrong (an author relies on a FAIL then)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from custodes.detect import ruletest
from custodes.detect.registry import builtin_rules
from custodes.errors import CustodesError

BUILTIN = ruletest.load_suite()
RULES_SRC = ruletest.builtin_folder()


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "custodes", *args], capture_output=True, text=True, cwd=cwd)


def test_every_builtin_rule_has_a_positive_and_a_negative_fixture():
    kinds = {}
    for f in BUILTIN.fixtures:
        kinds.setdefault(f.rule_id, set()).add("positive" if f.expect.findings else "negative")
    assert {r.id for r in builtin_rules()} == set(kinds)
    assert all(k == {"positive", "negative"} for k in kinds.values()), kinds
    assert not BUILTIN.untested()


@pytest.mark.parametrize("fixture", BUILTIN.fixtures, ids=lambda f: f.label)
def test_builtin_fixture_passes_on_duckdb(fixture):
    rule = {r.id: r for r in BUILTIN.rules}[fixture.rule_id]
    outcome = ruletest.run_fixture(rule, fixture)
    assert outcome.ok, json.dumps(outcome.to_dict(), indent=1)


def test_fixtures_hold_contract_columns_only():
    """Fixtures are written as an operator's logs are: no internal lake columns."""
    for fixture in BUILTIN.fixtures:
        for path in fixture.datasets.values():
            for line in path.read_text().splitlines():
                internal = [c for c in json.loads(line) if c.endswith("_key") or c.startswith("_")]
                assert not internal, f"{path}: {internal}"


SPARK_FIXTURES = ("token.unissued/positive", "employee.many_customers/positive", "key.departed_custodian/positive")


@pytest.mark.spark
def test_fixtures_pass_on_spark_too():
    by_id = {r.id: r for r in BUILTIN.rules}
    for fixture in [f for f in BUILTIN.fixtures if f.label in SPARK_FIXTURES]:
        outcome = ruletest.run_fixture(by_id[fixture.rule_id], fixture, backend="spark")
        assert outcome.ok and outcome.found, json.dumps(outcome.to_dict(), indent=1)


# An author's rule folder, copied from a built-in rule and its fixtures ---------------------------
def operator_dir(tmp_path, module: str, rule_id: str, edit=None) -> Path:
    folder = tmp_path / "rules"
    (folder / "fixtures").mkdir(parents=True)
    text = (RULES_SRC / f"{module}.py").read_text()
    if edit:
        old, new = edit
        assert old in text
        text = text.replace(old, new)
    (folder / f"{module}.py").write_text(text)
    shutil.copytree(RULES_SRC / "fixtures" / rule_id, folder / "fixtures" / rule_id)
    return folder


def test_an_operator_rules_dir_passes_and_exits_0(tmp_path):
    folder = operator_dir(tmp_path, "token_expired", "token.expired_use")
    done = cli("rules", "test", "--rules-dir", str(folder))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASS") == 2 and "2 passed, 0 failed" in done.stderr


@pytest.mark.parametrize("edit,fails", [
    # the clock-skew allowance dropped: the negative's token used 90 s after exp is flagged
    (("unix_micros(a.token_exp) + SKEW_MICROS", "unix_micros(a.token_exp)"), "negative"),
    # the comparison turned round: the positive's expired token is missed
    (("unix_micros(a.time) > unix_micros(a.token_exp)", "unix_micros(a.time) < unix_micros(a.token_exp)"), "positive"),
    # a severity changed: the positive's finding no longer matches its expectation
    (("return \"high\" if row[\"accounts\"] >= 100 else \"medium\"", "return \"low\""), "positive"),
])
def test_a_broken_rule_fails_its_fixtures(tmp_path, edit, fails):
    folder = operator_dir(tmp_path, "token_expired", "token.expired_use", edit)
    done = cli("rules", "test", "--rules-dir", str(folder), "--format", "json")
    assert done.returncode == 1
    verdicts = {o["fixture"]: o["ok"] for o in json.loads(done.stdout)}
    assert verdicts[fails] is False


def test_a_broken_provenance_rule_fails_its_positive(monkeypatch):
    """token.unissued whose ledger check lets every token through: the forgery fixture's five
    tokens are no longer found, and the positive fails with its expected finding missing."""
    from custodes.detect.rules import _tokens

    def broken(ctx):
        a = _tokens.token_requests(ctx)
        return a.filter(a.credential_id_key.isnull())

    monkeypatch.setattr(_tokens, "unissued", broken)
    rule = {r.id: r for r in BUILTIN.rules}["token.unissued"]
    fixture = next(f for f in BUILTIN.fixtures if f.label == "token.unissued/positive")
    outcome = ruletest.run_fixture(rule, fixture)
    assert not outcome.ok and len(outcome.missing) == 1 and outcome.found == 0


# What an author (or a careless copy) gets wrong ---------------------------------------------------
def write_fixture(folder: Path, rule_id: str, name: str, access: list[dict], expect: str) -> Path:
    case = folder / "fixtures" / rule_id / name
    case.mkdir(parents=True)
    (case / "access.jsonl").write_text("".join(json.dumps(r) + "\n" for r in access))
    (case / "expect.yaml").write_text(expect)
    return case


EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "rules"


def example_dir(tmp_path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    shutil.copy(EXAMPLE / "admin_export.py", folder)
    return folder


def export(status=200, actor="e-7", time="2025-04-14T09:00:00Z"):
    return {"time": time, "src_ip": "175.1.1.1", "method": "GET", "route": "/admin/export", "status": status,
            "actor_type": "employee", "actor_id": actor, "credential_type": "session", "record_count": 10}


def test_a_quarantined_row_fails_the_fixture_instead_of_passing_it_vacuously(tmp_path):
    """A negative fixture whose suspicious row never loaded (a time the lake cannot parse)
    would pass for the wrong reason: it fails, naming the file and row."""
    folder = example_dir(tmp_path)
    bad = dict(export(), time="14/04/2025 09:00")
    case = write_fixture(folder, "custom.admin_export", "negative", [export(status=403), bad], "findings: []\n")
    done = cli("rules", "test", "--rules-dir", str(folder))
    assert done.returncode == 1
    assert "FAIL  custom.admin_export/negative" in done.stdout
    assert f"{case / 'access.jsonl'}:2: time: quarantined" in done.stdout


def test_a_fixture_for_a_misspelt_rule_id_fails(tmp_path):
    folder = example_dir(tmp_path)
    write_fixture(folder, "custom.admn_export", "negative", [export(status=403)], "findings: []\n")
    done = cli("rules", "test", "--rules-dir", str(folder))
    assert done.returncode == 1
    assert "no rule custom.admn_export beside it" in done.stdout
    assert "custom.admin_export: no fixtures" in done.stderr


def test_a_finding_nothing_expected_fails_and_one_finding_cannot_meet_two_expectations(tmp_path):
    folder = example_dir(tmp_path)
    write_fixture(folder, "custom.admin_export", "extra", [export(actor="e-7"), export(actor="e-9")], """
findings:
  - {severity: low, entities: {actor_id: [e-7]}}
""")
    write_fixture(folder, "custom.admin_export", "twice", [export(actor="e-7")], """
findings:
  - {severity: low}
  - {window: "2025-04-14"}
""")
    done = cli("rules", "test", "--rules-dir", str(folder), "--format", "json")
    assert done.returncode == 1
    out = {o["fixture"]: o for o in json.loads(done.stdout)}
    assert [f["entities"]["actor_id"] for f in out["extra"]["unexpected"]] == [["e-9"]]
    assert len(out["twice"]["missing"]) == 1 and out["twice"]["found"] == 1


@pytest.mark.parametrize("expect,message", [
    ("finding: []\n", "findings: Field required"),  # a typo must not make the fixture expect nothing
    ("findings:\n  - {severity: high, entites: {actor_id: [e-7]}}\n", "findings.0.entites: Extra inputs"),
    ("findings:\n  - {severity: severe}\n", "findings.0.severity"),
    ("findings: []\nfindings: [{}]\n", "key 'findings' given twice"),
])
def test_an_expect_file_is_read_strictly(tmp_path, expect, message):
    folder = example_dir(tmp_path)
    case = write_fixture(folder, "custom.admin_export", "positive", [export()], expect)
    done = cli("rules", "test", "--rules-dir", str(folder))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"custodes: error: {case / 'expect.yaml'}") and message in done.stderr


def test_a_stray_file_in_a_fixture_is_an_error(tmp_path):
    folder = example_dir(tmp_path)
    case = write_fixture(folder, "custom.admin_export", "positive", [export()], "findings: []\n")
    (case / "acess.jsonl").write_text("{}\n")  # a misspelt dataset would never be loaded
    done = cli("rules", "test", "--rules-dir", str(folder))
    assert done.returncode == 1 and f"{case / 'acess.jsonl'}: not part of a fixture" in done.stderr


def test_a_rule_that_raises_is_one_line_not_a_traceback(tmp_path):
    folder = example_dir(tmp_path)
    path = folder / "admin_export.py"
    path.write_text(path.read_text().replace('a.route == "/admin/export"', 'a.no_such_column == "x"'))
    write_fixture(folder, "custom.admin_export", "positive", [export()], "findings: []\n")
    done = cli("rules", "test", "--rules-dir", str(folder))
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr
    assert "rule custom.admin_export failed: AttributeError" in done.stdout


def test_text_an_author_does_not_control_cannot_drive_the_terminal(tmp_path):
    """An actor id from a log line, shown in a difference, is printed with its escape defused."""
    folder = example_dir(tmp_path)
    write_fixture(folder, "custom.admin_export", "positive", [export(actor="e-7\x1b]0;owned\x07")],
                  "findings: []\n")
    done = cli("rules", "test", "--rules-dir", str(folder))
    assert done.returncode == 1 and "unexpected:" in done.stdout
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout


def test_unknown_rule_id_and_missing_rules_dir_are_errors(tmp_path):
    done = cli("rules", "test", "token.unisued")
    assert done.returncode == 1 and "no rule token.unisued" in done.stderr
    done = cli("rules", "test", "--rules-dir", str(tmp_path / "nope"))
    assert done.returncode == 1 and "is not a directory" in done.stderr


def test_selected_ids_run_only_their_fixtures():
    done = cli("rules", "test", "key.posture", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert sorted(o["fixture"] for o in json.loads(done.stdout)) == ["negative", "positive"]


def test_the_workspace_rules_dir_joins_the_builtin_rules(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    shutil.copytree(EXAMPLE, ws / "myrules")
    (ws / "custodes.yaml").write_text("detect:\n  rules_dir: myrules\n")
    listed = json.loads(cli("rules", "list", "--workspace", str(ws), "--format", "json").stdout)
    assert [r["id"] for r in listed][-1] == "custom.admin_export" and len(listed) == len(builtin_rules()) + 1
    done = cli("rules", "test", "custom.admin_export", "--workspace", str(ws))
    assert done.returncode == 0 and done.stdout.count("PASS") == 2


def test_rules_need_no_workspace_and_never_create_one(tmp_path):
    done = cli("rules", "list", cwd=tmp_path)
    assert done.returncode == 0 and not (tmp_path / "custodes-data").exists()
    done = cli("rules", "list", "--workspace", str(tmp_path / "typo"))
    assert done.returncode == 1 and "does not exist" in done.stderr and not (tmp_path / "typo").exists()


def test_rules_list_prints_the_metadata():
    rows = json.loads(cli("rules", "list", "--format", "json").stdout)
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == {r.id for r in builtin_rules()}
    assert by_id["token.unissued"]["requires"] == ["access", "issuance"]
    assert "T1606" in by_id["token.unissued"]["attack"] and by_id["key.posture"]["kind"] == "posture"
    text = cli("rules", "list").stdout
    assert "account.new_origin" in text and "access (+issuance)" in text


def test_a_missing_fixture_folder_for_a_rules_dir_is_an_error(tmp_path):
    folder = example_dir(tmp_path)
    done = cli("rules", "test", "--rules-dir", str(folder))
    assert done.returncode == 1 and "no fixtures to run" in done.stderr


def test_read_fixture_requires_an_expectation(tmp_path):
    case = tmp_path / "fixtures" / "x" / "positive"
    case.mkdir(parents=True)
    (case / "access.jsonl").write_text("")
    with pytest.raises(CustodesError, match="fixture without expect.yaml"):
        ruletest.fixtures_in(tmp_path)


def test_a_fixture_config_is_checked_as_custodes_yaml_is():
    """`config: {bulk_min_record: 100}` (misspelt) would leave the default threshold in force:
    the fixture would test another rule than its author wrote it for. It fails, naming the key
    and the nearest one, as custodes.yaml would."""
    import dataclasses

    from custodes.detect import ruletest

    suite = ruletest.load_suite().select(["export.bulk_volume"])
    fixture = next(f for f in suite.fixtures if f.name == "positive")
    config = {k.replace("bulk_min_records", "bulk_min_record"): v for k, v in fixture.expect.config.items()}
    assert config != fixture.expect.config  # the fixture sets the threshold this test misspells
    misspelt = dataclasses.replace(fixture, expect=fixture.expect.model_copy(update={"config": config}))
    outcome = ruletest.run_fixture(suite.rules[0], misspelt)
    assert not outcome.ok
    assert any("detect.bulk_min_record: unknown key; did you mean detect.bulk_min_records?" in p
               for p in outcome.problems), outcome.problems
    assert ruletest.run_fixture(suite.rules[0], fixture).ok
