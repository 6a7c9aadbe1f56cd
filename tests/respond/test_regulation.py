"""PIPA and GDPR duties, thresholds and fine ceilings as the documents state them, and the
respond section of custodes.yaml, checked strictly."""

from __future__ import annotations

import datetime as dt

import pytest

from custodes.errors import CustodesError
from custodes.respond import regulation, settings
from custodes.workspace import Workspace

FOUND = dt.datetime(2025, 4, 15, 6, tzinfo=dt.timezone.utc)


def config(**respond) -> settings.RespondConfig:
    return settings.RespondConfig.model_validate(respond)


def assess(subjects, items, cfg=None, rules=("employee.many_customers",), unreachable=None):
    return regulation.assess(subjects, items, FOUND, cfg or config(), rule_ids=rules, unreachable=unreachable)


@pytest.mark.parametrize("subjects, required", [(999, None), (1000, True), (33_700_000, True)])
def test_pipa_report_threshold(subjects, required):
    a = assess(subjects, ["name", "email"])
    report = a.duty("pipa_report")
    assert report.required is required  # below the threshold, an insider's leak: confirm
    assert report.due == FOUND + dt.timedelta(hours=72)
    notice = a.duty("pipa_notice")
    assert notice.required and notice.due == dt.datetime(2025, 4, 18, 6, tzinfo=dt.timezone.utc)


def test_access_from_outside_or_unique_identifiers_require_a_report_whatever_the_count():
    """시행령 Art. 40(1) 2 and 3: unique identifiers, or unlawful access from outside."""
    assert assess(3, ["name"], rules=("token.unissued",)).duty("pipa_report").required is True
    ids = assess(3, ["name", "national_id"])
    assert ids.duty("pipa_report").required is True
    assert ("report_special_items", {"items": ["national_id"]}) in ids.duty("pipa_report").reasons


def test_posting_replaces_letters_only_for_those_who_cannot_be_reached():
    """시행령 Art. 39(3): 30 days on the web site in place of a letter; no size threshold."""
    assert assess(5000, ["name"], unreachable=0).duty("pipa_posting").required is False
    posting = assess(5000, ["name"], unreachable=12).duty("pipa_posting")
    assert posting.required is True and posting.until == FOUND + dt.timedelta(hours=72, days=30)
    assert assess(5000, ["name"], unreachable=None).duty("pipa_posting").required is None


def test_gdpr_art34_follows_high_risk_items_and_can_be_switched_off():
    low = assess(5000, ["name", "email"])
    assert low.duty("gdpr_subjects").required is None
    assert low.duty("gdpr_authority").due == FOUND + dt.timedelta(hours=72)
    assert assess(5000, ["address", "entrance_code"]).duty("gdpr_subjects").required is True
    off = assess(5000, ["address"], config(gdpr={"applies": False}))
    assert not [d for d in off.duties if d.regime == "GDPR"] and not [f for f in off.fines if f.regime == "GDPR"]


def test_pipa_fine_is_3_percent_of_revenue_less_what_is_unrelated():
    unset = assess(10, [])
    assert {f.code: f.ceiling for f in unset.fines}["pipa"] is None
    cfg = config(fines={"pipa_total_revenue_krw": 41e12, "pipa_unrelated_revenue_krw": 1e12})
    fines = {f.code: f for f in assess(10, [], cfg).fines}
    assert fines["pipa"].ceiling == pytest.approx(1.2e12) and fines["pipa"].base == pytest.approx(40e12)
    assert fines["pipa_aggravated"].ceiling == pytest.approx(4e12)
    legacy = config(fines={"pipa_relevant_revenue_krw": 41e12})
    assert {f.code: f.ceiling for f in assess(10, [], legacy).fines}["pipa"] == pytest.approx(1.23e12)


def test_gdpr_ceilings_are_the_higher_of_fixed_and_share_of_turnover():
    unset = {f.code: f for f in assess(10, []).fines}
    assert unset["gdpr_83_4"].ceiling == 10_000_000 and not unset["gdpr_83_4"].configured
    assert unset["gdpr_83_5"].ceiling == 20_000_000
    small = {f.code: f.ceiling for f in assess(10, [], config(fines={"gdpr_worldwide_turnover_eur": 1e8})).fines}
    assert small["gdpr_83_4"] == 10_000_000 and small["gdpr_83_5"] == 20_000_000
    big = {f.code: f.ceiling for f in assess(10, [], config(fines={"gdpr_worldwide_turnover_eur": 2e9})).fines}
    assert big["gdpr_83_4"] == pytest.approx(40_000_000) and big["gdpr_83_5"] == pytest.approx(80_000_000)


@pytest.mark.parametrize("yaml, message", [
    ("respond: {fines: {pipa_relevant_revenue_krw: lots}}", "respond.fines.pipa_relevant_revenue_krw"),
    ("respond: {organisation: Example}", "respond.organisation: unknown key; did you mean respond.organization?"),
    ("respond: {privacy_officer: {name: Kim, mail: a@b.c}}", "respond.privacy_officer.mail"),
    ("respond: {privacy_officer: {email: not-an-address}}", "respond.privacy_officer.email"),
    ("respond: {organization: {en: A, fr: B}}", "respond.organization.fr"),
    ("respond: {fines: {pipa_unrelated_revenue_krw: 5}}", "needs pipa_total_revenue_krw"),
    ("respond: {fines: {pipa_total_revenue_krw: 5, pipa_unrelated_revenue_krw: 6}}", "exceeds"),
    ("respond: {fines: {pipa_total_revenue_krw: -1}}", "respond.fines.pipa_total_revenue_krw"),
    ("respond: [1, 2]", "respond: expected a mapping"),
])
def test_a_typo_in_the_respond_section_is_an_error_naming_the_key(tmp_path, yaml, message):
    ws = Workspace.open(tmp_path / "ws")
    ws.config_path.write_text(yaml + "\n")
    with pytest.raises(CustodesError, match=message.replace("(", r"\(").replace(".", r"\.").replace("?", r"\?")):
        settings.load(ws)


def test_names_per_language_fall_back_to_the_other():
    cfg = config(organization={"ko": "예시커머스"}, privacy_officer={"name": "Kim Minji", "email": "p@example.com"})
    assert settings.pick(cfg.organization, "en") == "예시커머스"
    assert settings.pick(cfg.privacy_officer.name, "ko") == "Kim Minji"
    assert cfg.damage_contact() is cfg.privacy_officer  # no contact: the privacy officer takes reports
