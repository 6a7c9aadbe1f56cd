"""Which files a ``custodes ingest`` command names: files, directories (recursively), globs."""

from __future__ import annotations

import glob
from pathlib import Path

from custodes.errors import CustodesError


def expand(paths: list[str | Path]) -> list[Path]:
    out: list[Path] = []
    for given in paths:
        text = str(given)
        p = Path(text)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
        elif p.is_file():
            found = [p]
        elif glob.has_magic(text):
            found = sorted(Path(f) for f in glob.glob(text, recursive=True) if Path(f).is_file())
        else:
            raise CustodesError(f"{text}: no such file or directory")
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
