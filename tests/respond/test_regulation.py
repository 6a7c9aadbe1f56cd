"""PIPA and GDPR duties, thresholds and fine ceilings as the report states them."""

from __future__ import annotations

import datetime as dt

import pytest

from custodes.errors import CustodesError
from custodes.respond import regulation

FOUND = dt.datetime(2025, 4, 15, 6, tzinfo=dt.timezone.utc)


def settings_of(cfg: dict):
    def get(dotted, default=None):
        node = cfg
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node
    return get


def duty(a, regime, who):
    return next(d for d in a.duties if d.regime == regime and d.who == who)


@pytest.mark.parametrize("subjects, required", [(999, False), (1000, True), (33_700_000, True)])
def test_pipa_regulator_report_threshold(subjects, required):
    a = regulation.assess(subjects, ["name", "email"], FOUND, settings_of({}))
    report = duty(a, "PIPA", "PIPC or KISA")
    assert report.required is required
    assert report.due == FOUND + dt.timedelta(hours=72)
    assert duty(a, "PIPA", "data subjects").required and duty(a, "PIPA", "data subjects").due == dt.datetime(
        2025, 4, 18, 6, tzinfo=dt.timezone.utc)


def test_unique_identifier_requires_report_whatever_the_count():
    a = regulation.assess(3, ["name", "national_id"], FOUND, settings_of({}))
    assert duty(a, "PIPA", "PIPC or KISA").required
    assert "national_id" in duty(a, "PIPA", "PIPC or KISA").why


def test_gdpr_art34_follows_high_risk_items_and_can_be_switched_off():
    low = regulation.assess(5000, ["name", "email"], FOUND, settings_of({}))
    assert not duty(low, "GDPR", "data subjects").required
    high = regulation.assess(5000, ["address", "entrance_code"], FOUND, settings_of({}))
    assert duty(high, "GDPR", "data subjects").required
    off = regulation.assess(5000, ["address"], FOUND, settings_of({"respond": {"gdpr": {"applies": False}}}))
    assert not [d for d in off.duties if d.regime == "GDPR"]


def test_fines_from_configuration_and_said_clearly_when_unset():
    unset = regulation.assess(10, [], FOUND, settings_of({}))
    pipa, gdpr = unset.fines
    assert pipa.ceiling is None and not pipa.configured and "is not set" in pipa.basis
    assert not gdpr.configured and "is not set" in gdpr.basis
    cfg = {"respond": {"fines": {"pipa_relevant_revenue_krw": 41_000_000_000_000,
                                 "gdpr_worldwide_turnover_eur": 100_000_000}}}
    pipa, gdpr = regulation.assess(10, [], FOUND, settings_of(cfg)).fines
    assert pipa.ceiling == pytest.approx(1_230_000_000_000)
    assert gdpr.ceiling == 20_000_000  # 4% of 100M is 4M: the fixed EUR 20M is higher
    big = {"respond": {"fines": {"gdpr_worldwide_turnover_eur": 2_000_000_000}}}
    assert regulation.assess(10, [], FOUND, settings_of(big)).fines[1].ceiling == pytest.approx(80_000_000)


def test_bad_fine_figure_is_a_clear_error():
    with pytest.raises(CustodesError, match="pipa_relevant_revenue_krw must be a number"):
        regulation.assess(10, [], FOUND, settings_of({"respond": {"fines": {"pipa_relevant_revenue_krw": "lots"}}}))
