"""custodes.text: counts, shares and yes/no as people read them."""

from __future__ import annotations

import pytest

from custodes.text import MISSING, noun, percent, plural, shown


@pytest.mark.parametrize("n,word,expected", [
    (1, "token", "1 token"), (0, "token", "0 tokens"), (2, "token", "2 tokens"),
    (1, "address", "1 address"), (3, "address", "3 addresses"), (1, "entry", "1 entry"),
    (2, "entry", "2 entries"), (2, "day", "2 days"), (1234567, "account", "1,234,567 accounts"),
    (2, "person", "2 people"), (-1, "file", "-1 files"),
])
def test_plural(n, word, expected):
    assert plural(n, word) == expected


def test_an_irregular_plural_can_be_given():
    assert plural(2, "criterion", "criteria") == "2 criteria" and noun(1, "criterion", "criteria") == "criterion"


@pytest.mark.parametrize("fraction,expected", [
    (0.82, "82%"), (0.0, "0%"), (1.0, "100%"), (0.004, "<1%"), (0.996, ">99%"), (0.5, "50%"),
    (None, MISSING), (float("nan"), MISSING),
])
def test_percent(fraction, expected):
    assert percent(fraction) == expected


@pytest.mark.parametrize("value,name,expected", [
    (True, "signed", "yes"), (False, "signed", "no"), (None, "verified", MISSING), ("", "x", MISSING),
    (12345, "rows", "12,345"), (0.82, "share_new", "82%"), (0.82, "accounts_ratio", "82%"),
    (0.82, "score", "0.82"), (3.0, "score", "3"), (1, "share", "100%"), ("k-2019", "kid", "k-2019"),
])
def test_shown(value, name, expected):
    assert shown(value, name) == expected
