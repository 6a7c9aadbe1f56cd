"""Attacks on custodes.yaml and on the workspace path that used to pass without a word (issue 17
item 7). Written against what base17 already had (``all_rules``, ``detect``, ``setting``, the
CLI), so each fails there for the reason it names, not for a missing import."""

from __future__ import annotations

import pytest

from custodes.detect.registry import all_rules
from custodes.errors import CustodesError
from tests.config.conftest import configure


def test_a_misspelt_rules_dir_no_longer_drops_the_operators_rules(workspace, operator_rules):
    """The incident behind the issue: `detect.rule_dir` (sic) was ignored, and the operator's
    rule silently never ran. Now every reader of `detect:` refuses the file, naming the key."""
    configure(workspace, "detect:\n  rule_dir: rules\n")
    with pytest.raises(CustodesError, match=r"detect\.rule_dir: unknown key; did you mean detect\.rules_dir\?"):
        all_rules(workspace)
    configure(workspace, "detect:\n  rules_dir: rules\n")
    assert "custom.admin_export" in {r.id for r in all_rules(workspace)}



@pytest.mark.parametrize("text, message", [
    ("detect:\n  source_min_acounts: 5\n", "detect.source_min_acounts: unknown key; did you mean detect.source_min_accounts?"),
    ("detect:\n  source_min_accounts: '5'\n", "detect.source_min_accounts: expected a whole number"),
    ("detect:\n  bulk_min_records: true\n", "detect.bulk_min_records: expected a whole number"),
    ("detect:\n  slow_min_accounts: 0\n", "detect.slow_min_accounts: Input should be greater than 0"),
    ("detect:\n  issuance_max_lag_minutes: 1.5\n", "detect.issuance_max_lag_minutes: expected a whole number"),
    ("organisation: Example Co.\n", "organisation: unknown key; did you mean respond.organization?"),
    ("detet:\n  rules_dir: rules\n", "detet: unknown key; did you mean detect?"),
])
def test_a_threshold_misspelt_or_of_the_wrong_type_stops_detection(workspace, text, message):
    """A misspelt threshold left the default in force: an insider's `source_min_accounts: '5000'`
    (a string) or a typo looked tuned and was not. Detection refuses to run on it."""
    from custodes.detect.run import detect

    configure(workspace, text)
    with pytest.raises(CustodesError) as err:
        detect(workspace)
    assert message in str(err.value) and str(workspace.config_path) in str(err.value)


def test_a_key_given_twice_is_an_error(workspace):
    """An insider appends a second `detect:` at the end of the file to override the section
    the team reviewed at the top; YAML's default (the last one wins) would take it silently."""
    configure(workspace, "detect:\n  source_min_accounts: 50\nalerts: {}\ndetect:\n  source_min_accounts: 100000\n")
    with pytest.raises(CustodesError, match=r"key 'detect' given twice \(lines 1 and 4\)"):
        workspace.setting("detect.source_min_accounts")
