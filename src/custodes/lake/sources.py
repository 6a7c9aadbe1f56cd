"""Which files a ``custodes ingest`` command names: files, directories (recursively), globs."""

from __future__ import annotations

import glob
from pathlib import Path

from custodes.errors import CustodesError


def matching(given: str | Path) -> list[Path]:
    """The files ``given`` names, sorted: a file, a directory's files (recursively; names
    starting with ``.`` are in flight and skipped) or a glob's; [] when a glob or a directory
    matches nothing, an error when a plain path does not exist."""
    text = str(given)
    p = Path(text)
    if p.is_dir():
        return sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
    if p.is_file():
        return [p]
    if glob.has_magic(text):
        return sorted(Path(f) for f in glob.glob(text, recursive=True) if Path(f).is_file())
    raise CustodesError(f"{text}: no such file or directory")


def expand(paths: list[str | Path]) -> list[Path]:
    out: list[Path] = []
    for given in paths:
        text = str(given)
        found = matching(text)
        if not found:
            raise CustodesError(f"{text}: matches no files")
        out.extend(found)
    seen, unique = set(), []
    for f in out:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique
