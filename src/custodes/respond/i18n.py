"""The documents' words in Korean and English: hand-written catalogues with slots
(templates/i18n/{ko,en}.yaml), and how each language writes a time, a date, a number and a list.

Korean documents give times in KST (UTC+9), as a Korean regulator and Korean customers read them;
English ones in UTC. Both say which. Nothing is machine-translated: a key missing in one language
is an error, never the other language's text.
"""

from __future__ import annotations

import datetime as dt
import functools
import string
from importlib import resources

import yaml

from custodes.errors import CustodesError

LANGUAGES = ("ko", "en")
ZONES = {"ko": dt.timezone(dt.timedelta(hours=9), "KST"), "en": dt.timezone.utc}
MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
             "October", "November", "December")


@functools.cache
def _load(lang: str) -> dict:
    text = resources.files("custodes.respond").joinpath("templates", "i18n", f"{lang}.yaml").read_text("utf-8")
    return yaml.safe_load(text)


class Catalogue:
    """``t("sections.summary")``, ``t("narrative.body", period=..., ...)``; ``t.item(code)``."""

    def __init__(self, lang: str):
        if lang not in LANGUAGES:
            raise CustodesError(f"unknown language {lang!r}; expected one of {', '.join(LANGUAGES)}")
        self.lang = lang
        self.zone = ZONES[lang]
        self._data = _load(lang)

    def __call__(self, key: str, /, **slots) -> str:
        text = self.raw(key)
        if not isinstance(text, str):
            raise KeyError(f"{self.lang}.yaml: {key} is not a text")
        # str.format, but only with the slots given: a value that holds braces is never re-read
        return string.Formatter().vformat(text, (), slots) if slots else text

    def raw(self, key: str):
        node = self._data
        for part in key.split(".") if not key.startswith("narrative.methods.") else \
                ["narrative", "methods", key.removeprefix("narrative.methods.")]:
            if not isinstance(node, dict) or part not in node:
                raise KeyError(f"{self.lang}.yaml has no {key}")
            node = node[part]
        return node

    def has(self, key: str) -> bool:
        try:
            self.raw(key)
        except KeyError:
            return False
        return True

    # Values ---------------------------------------------------------------------------------
    def item(self, code: str) -> str:
        """A personal-data item's name; an operator's own item is shown by its code."""
        items = self._data["items"]
        return items.get(code, code.replace("_", " "))

    def items(self, codes) -> str:
        return self.join([self.item(c) for c in codes])

    def join(self, words: list[str]) -> str:
        if self.lang == "ko" or len(words) < 2:
            return ", ".join(words)
        return ", ".join(words[:-1]) + f" {self('narrative.and')} " + words[-1]

    def number(self, n) -> str:
        return "—" if n is None else f"{n:,.0f}"

    def time(self, value: dt.datetime | None) -> str:
        if value is None:
            return "—"
        local = value.astimezone(self.zone)
        return local.strftime("%Y-%m-%d %H:%M ") + self("zone")

    def date(self, value: dt.datetime, with_year: bool = True) -> str:
        local = value.astimezone(self.zone)
        if self.lang == "ko":
            return (f"{local.year}년 " if with_year else "") + f"{local.month}월 {local.day}일"
        return f"{local.day} {MONTHS_EN[local.month - 1]}" + (f" {local.year}" if with_year else "")

    def period(self, first: dt.datetime, last: dt.datetime) -> str:
        """"On 16 April 2025" / "From 16 April to 15 May 2025" (the year once when it is one)."""
        a, b = first.astimezone(self.zone), last.astimezone(self.zone)
        if a.date() == b.date():
            return self("narrative.on_day", day=self.date(a))
        same_year = a.year == b.year
        if self.lang == "ko":  # the year leads in Korean: 2025년 4월 16일부터 5월 15일까지
            return self("narrative.from_to", first=self.date(a), last=self.date(b, with_year=not same_year))
        return self("narrative.from_to", first=self.date(a, with_year=not same_year), last=self.date(b))

    def subjects(self, n: int) -> str:
        return self("narrative.subjects_one" if n == 1 else "narrative.subjects_other", n=self.number(n))
