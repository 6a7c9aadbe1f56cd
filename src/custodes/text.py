"""Numbers and words for people: one place for how custodes writes a count, a share, a yes/no.

The CLI's text output, the console's pages, the alerts and the reports' counts all go through
these, so that "1 tokens" or "share_new 0" (an 82 % share cut to an integer) cannot come back
in one corner. Escaping is not done here: :func:`custodes.clikit.terminal_safe` (terminals),
Jinja2's autoescape (HTML) and :mod:`custodes.alerts.text` (messages) do that for their medium.
"""

from __future__ import annotations

import math
import re

#: what stands for a value that is missing (None, NaN, an empty string)
MISSING = "\u2014"

#: nouns whose plural is not the noun plus s or es
_IRREGULAR = {"person": "people", "is": "are", "was": "were", "has": "have", "this": "these"}
#: names of fractions in [0, 1] (``share_new``, ``ratio``, ``accounts_share``): shown as %
_SHARE = re.compile(r"(^|_)(share|ratio|fraction|rate)($|_)")


def plural(n: int, word: str, many: str | None = None) -> str:
    """``n`` and ``word`` in the right number, the count with thousands separators:
    ``plural(1, "token")`` is "1 token", ``plural(1200, "address")`` "1,200 addresses"."""
    return f"{n:,} {noun(n, word, many)}"


def noun(n: int, word: str, many: str | None = None) -> str:
    """``word`` alone, singular for one and plural otherwise (``many`` when it is irregular)."""
    if n == 1:
        return word
    if many is not None:
        return many
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u"):
        return word[:-1] + "ies"
    return word + "s"


def percent(fraction: float | None) -> str:
    """A fraction as a whole percentage: 0.82 is "82%". A share that is not zero never shows
    as "0%", nor one short of all as "100%" (they read "<1%" and ">99%")."""
    if fraction is None or (isinstance(fraction, float) and math.isnan(fraction)):
        return MISSING
    shown = round(fraction * 100)
    if shown == 0 and fraction > 0:
        return "<1%"
    if shown == 100 and fraction < 1:
        return ">99%"
    return f"{shown}%"


def count(n) -> str:
    """A whole number with thousands separators (a float rounded); a missing one as an em dash."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return MISSING
    return f"{n:,.0f}"


def is_share(name: str | None) -> bool:
    """Whether a value named ``name`` is a fraction in [0, 1] (shown as a percentage)."""
    return name is not None and _SHARE.search(name) is not None


def shown(value, name: str | None = None) -> str:
    """Any scalar of a finding's evidence, a setting, a status row, as a person reads it:
    yes/no for booleans, an em dash when missing, thousands separators for counts, a
    percentage for a share (by its ``name``), two decimals at most for other fractions."""
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) and is_share(name):
        return percent(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}".rstrip("0")
    return str(value)
