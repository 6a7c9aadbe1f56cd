"""Values placed into the Markdown report, made inert.

Titles, ids and names in a report come from the logs and from tokens, so a forger chooses them.
Pasted raw into Markdown they could add links, images, raw HTML (``<img src=x onerror=...>``),
table cells or headings to the report the regulator and the customers read. :func:`escape` makes
a value plain text wherever it sits on a line; :func:`code` makes it a code span that nothing in
it can close. Both drop control characters and keep a value on one line.
"""

from __future__ import annotations

import re

from custodes.clikit import terminal_safe

#: backslash-escaped wherever they are: emphasis, code, links and images, tables, strikethrough
_INLINE = re.compile(r"([\\`*\[\]|~])")
#: `_` opens emphasis only at a word boundary; inside a word (config_key_names) it is plain
_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
#: what would start a block (heading, list, quote, setext underline, numbered list) at a line's start
_BLOCK_START = re.compile(r"^(?:[#+\-=!]|\d+(?=[.)]))")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


class Code(str):
    """Markdown already made safe by :func:`code`; :func:`escape` leaves it alone."""


def _one_line(value) -> str:
    return re.sub(r"\s*[\r\n\t]\s*", " ", terminal_safe(str(value))).strip()


def escape(value) -> str:
    """A value as literal text in Markdown: HTML as entities, Markdown syntax backslash-escaped."""
    if isinstance(value, Code):
        return value
    text = _one_line(value)
    text = "".join(_ENTITIES.get(c, c) for c in text)
    text = _INLINE.sub(r"\\\1", text)
    text = _UNDERSCORE.sub(r"\\_", text)
    return _BLOCK_START.sub(lambda m: "\\" + m.group() if not m.group().isdigit() else m.group() + "\\", text)


def code(value) -> Code:
    """A value as a code span: fenced with more backticks than any run inside it (CommonMark),
    so nothing in it ends the span; HTML in a code span is shown, not rendered."""
    text = _one_line(value)
    if not text:
        return Code("")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text[0] in "` " or text[-1] in "` " else ""
    return Code(f"{fence}{pad}{text}{pad}{fence}")
