"""One noun for one thing: "1 token … 1 account from 1 address", never "1 tokens … 1 accounts
from 1 addresses", in every rule's title, an incident's title and the alerts' text."""

from __future__ import annotations

import re

import pytest

from custodes.detect.registry import all_rules

#: a count of one followed by a plural noun (an adjective may come between)
ONE_MANY = re.compile(r"(?<![\d.,])1 (?:[a-z-]+ )?(?:tokens|accounts|addresses|requests|records|days|hours|times|"
                      r"findings|incidents|entries|files|rows|keys|credentials|sessions|alerts|minutes)\b")


class Ones(dict):
    """A rule's row where every count is 1 (and every flag true)."""

    def __missing__(self, key):
        return 1


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.id)
def test_a_rule_title_with_counts_of_one_is_singular(rule):
    row = Ones(source="*", credential_type="api_key", rotation_started=False, in_file=True, age_days=1, max_age=0)
    title = rule.title_of(row)
    assert not ONE_MANY.search(title), title


def test_the_unissued_tokens_title_of_the_issue():
    rule = next(r for r in all_rules() if r.id == "token.unissued")
    title = rule.title_of(Ones(kid="k-2019", from_new_networks=0))
    assert "1 token signed with kid k-2019" in title and "reading 1 account from 1 address" in title
    many = rule.title_of(Ones(kid="k-2019", tokens=48211, accounts=2, sources=3, from_new_networks=0))
    assert "48,211 tokens" in many and "2 accounts from 3 addresses" in many


def test_an_incident_of_two_findings_on_one_day_says_one_related_finding_over_one_day():
    from custodes.detect.incidents import group

    base = {"rule_id": "token.unissued", "title": "t", "severity": "high", "attack": [],
            "first_seen": "2025-04-14T01:00:00Z", "last_seen": "2025-04-14T02:00:00Z",
            "detected_at": "2025-04-14T03:00:00Z", "window": "2025-04-14",
            "entities": {"kid": ["k-1"], "src_ip": [], "credential_id": [], "actor_id": [], "employee_id": []},
            "evidence": {"requests": 1}}
    findings = [dict(base, finding_id="f-1"), dict(base, finding_id="f-2", rule_id="token.expired")]
    (incident,) = group(findings)
    assert "+1 related finding:" in incident["title"] and "over 1 day)" in incident["title"]


def test_an_alert_of_one_request_from_one_account():
    from custodes.alerts.text import body_lines

    alert = {"event": "new", "incident_id": "i-1", "severity": "high", "first_seen": "a", "last_seen": "b",
             "detected_at": "c", "rule_ids": ["token.unissued"], "entities": {}, "alert_id": "a-1",
             "evidence": {"requests": 1, "accounts": 1}}
    assert "evidence: 1 request, 1 account" in body_lines(alert)
