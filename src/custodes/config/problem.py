"""One problem of custodes.yaml, and refusing a file that has some. Free of pydantic, so that
reading a workspace without a configuration imports nothing more."""

from __future__ import annotations

from dataclasses import dataclass

from custodes.errors import CustodesError


@dataclass(frozen=True)
class Problem:
    """One thing wrong in custodes.yaml: ``section`` is the top-level key it is under (None for
    an unknown top-level key or the file as a whole), ``text`` the line that says it."""
    section: str | None
    text: str


def refuse(path, problems: list[Problem]) -> None:
    """Raise a CustodesError listing ``problems``, one line each naming the file; nothing when none."""
    if problems:
        raise CustodesError("\n".join(f"{path}: {p.text}" for p in problems))
