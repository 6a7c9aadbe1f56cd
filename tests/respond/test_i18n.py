"""The two catalogues say the same things: every key in one is in the other, with the same slots,
so no document falls back to the other language or leaves a slot unfilled."""

from __future__ import annotations

import string

from custodes.respond.i18n import Catalogue, _load


def flatten(node, prefix=""):
    out = {}
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


def slots(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_catalogues_have_the_same_keys_and_slots():
    ko, en = flatten(_load("ko")), flatten(_load("en"))
    assert set(ko) == set(en), set(ko) ^ set(en)
    for key in en:
        assert slots(str(ko[key])) == slots(str(en[key])), key


def test_korean_catalogue_is_korean():
    t = Catalogue("ko")
    assert t("documents.pipc").startswith("개인정보 유출 등 신고서")
    assert t("items.entrance_code") == "공동현관 출입번호" and t("zone") == "KST"


def test_a_value_with_braces_is_not_read_again():
    t = Catalogue("en")
    assert t("notice.sample", account="{zone}") == "Sample letter for account {zone}; the mail-merge file holds one row per person."


def test_dates_and_periods_per_language():
    import datetime as dt

    utc = dt.timezone.utc
    a, b = dt.datetime(2025, 4, 16, 1, tzinfo=utc), dt.datetime(2025, 5, 15, 20, tzinfo=utc)
    assert Catalogue("en").period(a, b) == "From 16 April to 15 May 2025"
    assert Catalogue("ko").period(a, b) == "2025년 4월 16일부터 5월 16일까지"  # 20:00 UTC is the next day in Seoul
    assert Catalogue("en").period(a, a) == "On 16 April 2025"
    assert Catalogue("en").period(dt.datetime(2024, 12, 30, tzinfo=utc), b) == "From 30 December 2024 to 15 May 2025"
    assert Catalogue("ko").time(a) == "2025-04-16 10:00 KST" and Catalogue("en").time(a) == "2025-04-16 01:00 UTC"
