"""The registry: built-in rules have complete metadata; an operator's folder adds rules; a
broken operator rule is a clear error, not a traceback."""

from __future__ import annotations

import pytest

from custodes.detect.registry import all_rules, builtin_rules
from custodes.detect.rule import SEVERITIES
from custodes.errors import CustodesError

PACK = {
    "token.unissued", "token.claims_mismatch", "token.retired_key", "token.expired_use",
    "key.departed_custodian", "key.posture", "credential.after_termination",
    "credential.after_revocation", "credential.departed_still_valid", "source.many_accounts",
    "account.new_origin", "employee.many_customers", "export.bulk_volume", "source.low_and_slow",
    "integrity.log_gap", "issuance.ledger_gap",
}


def test_builtin_pack_is_complete_and_described():
    rules = builtin_rules()
    assert {r.id for r in rules} == PACK
    for r in rules:
        assert r.title and r.description and r.requires and r.severity in SEVERITIES
        assert r.kind in ("event", "posture")
        assert all(t.startswith("T") for t in r.attack)


USER_RULE = '''
from custodes.detect.rule import Rule, day_expr, successful

class AdminRouteAtNight(Rule):
    id = "custom.admin_export_any"
    title = "Anyone used the export route"
    severity = "low"
    group_by = ("route",)
    def rows(self, ctx):
        a = successful(ctx.events("access"))
        a = a.filter(a.route == "/admin/export")
        return a.mutate(day=day_expr(a.time))
'''


def test_operator_rules_from_the_configured_folder(workspace, duck):
    from custodes.detect.run import evaluate

    folder = workspace.root / "myrules"
    folder.mkdir()
    (folder / "admin.py").write_text(USER_RULE)
    workspace.config_path.write_text("detect:\n  rules_dir: myrules\n")
    rules = all_rules(workspace)
    mine = [r for r in rules if r.id == "custom.admin_export_any"]
    assert len(mine) == 1
    found = evaluate(duck, mine)
    assert {f["window"] for f in found} == {"2025-04-07", "2025-04-09"}  # ak-partner, ak-data


def test_broken_operator_rule_names_its_file(workspace):
    folder = workspace.root / "myrules"
    folder.mkdir()
    (folder / "broken.py").write_text("import nothing_here\n")
    workspace.config_path.write_text("detect:\n  rules_dir: myrules\n")
    with pytest.raises(CustodesError, match="broken.py"):
        all_rules(workspace)


def test_duplicate_rule_id_is_refused(workspace):
    folder = workspace.root / "myrules"
    folder.mkdir()
    (folder / "dup.py").write_text(USER_RULE.replace("custom.admin_export_any", "token.unissued"))
    workspace.config_path.write_text("detect:\n  rules_dir: myrules\n")
    with pytest.raises(CustodesError, match="token.unissued"):
        all_rules(workspace)


@pytest.mark.parametrize("line, message", [
    ("    has_rows = 'False'", "has_rows 'False'; expected True or False"),  # a true string
    ("    version = '2'", "version '2'; expected a whole number"),
    ("    version = 0", "version 0; expected a whole number"),
    ("    version = True", "version True; expected a whole number"),
])
def test_an_operator_rule_cannot_mistype_what_the_runner_reads(workspace, line, message):
    # has_rows 'False' would be read as true: the runner would list evidence rows a rule without
    # rows does not have; a version '2' would never match, or change, the state's fingerprint.
    folder = workspace.root / "myrules"
    folder.mkdir()
    (folder / "typo.py").write_text(USER_RULE.replace('    severity = "low"\n', f'    severity = "low"\n{line}\n'))
    workspace.config_path.write_text("detect:\n  rules_dir: myrules\n")
    with pytest.raises(CustodesError, match=f"custom.admin_export_any has {message}"):
        all_rules(workspace)


def test_every_rule_declares_what_the_runner_reads_and_its_version_moves_the_fingerprint():
    from custodes.detect.state import fingerprint

    rules = [r() for r in builtin_rules()]
    assert all(isinstance(r.has_rows, bool) and isinstance(r.version, int) for r in rules)
    assert [r.id for r in rules if not r.has_rows] == ["integrity.log_gap"]
    bumped = type("Bumped", (type(rules[0]),), {"version": rules[0].version + 1})()
    assert fingerprint([bumped, *rules[1:]]) != fingerprint(rules)
