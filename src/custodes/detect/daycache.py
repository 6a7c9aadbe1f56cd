"""Per-day intermediate results kept between runs, so that an hourly run reads the earlier days
of a long look-back from small files instead of the lake.

``WORKSPACE/detect/cache/<name>/<day>.parquet`` holds what a rule derived from one UTC day of
events (e.g. the distinct (account, ASN, day) triples of the origin rules). A day's file is
valid as long as no row landed in that day since it was written: every run recomputes the days
from the first one holding new rows (run.py) and rewrites their files, and reads only files of
earlier days. A full run, a changed rule set or a lake that lost rows starts from an empty
cache. The files are derived data: a file that cannot be read is recomputed, never an error
(``custodes detect --full`` rebuilds them all from the sealed lake).
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from custodes.safefile import replace_file
from custodes.workspace import private_dir

#: Bumped when what a cached file holds changes meaning: older files are then ignored.
VERSION = 1


class DayCache:
    def __init__(self, root: Path):
        self.root = Path(root) / f"v{VERSION}"

    def clear(self) -> None:
        shutil.rmtree(self.root.parent, ignore_errors=True)

    def _path(self, name: str, day: int) -> Path:
        return self.root / name / f"{int(day)}.parquet"

    def read(self, name: str, first_day: int, last_day: int) -> tuple[pa.Table | None, int]:
        """The cached days ``first_day``, ``first_day + 1``... up to ``last_day`` or the first
        day missing, as one table; and that first day not read (``last_day + 1`` when all were)."""
        day = first_day
        while day <= last_day and self._path(name, day).is_file():
            day += 1
        if day == first_day:
            return None, first_day
        try:  # one multi-threaded read of every file
            return ds.dataset([str(self._path(name, d)) for d in range(first_day, day)]).to_table(), day
        except (OSError, pa.ArrowException):  # a torn or foreign file: recompute those days
            return None, first_day

    def write(self, name: str, table: pa.Table, first_day: int, last_day: int) -> None:
        """Store ``table`` (with a ``day`` column) as the days ``first_day``..``last_day``,
        one file each, a day without rows as an empty file (it was computed: nothing there)."""
        private_dir(self.root / name)
        days = table["day"]
        for day in range(first_day, last_day + 1):
            rows = table.filter(pc.equal(days, day))
            buffer = io.BytesIO()
            pq.write_table(rows, buffer)
            # Derived data: no fsync (a torn file fails to read and is recomputed).
            replace_file(self._path(name, day), buffer.getvalue(), sync=False)

    def prune(self, before_day: int) -> None:
        """Forget days no look-back reaches any more."""
        for path in self.root.glob("*/*.parquet"):
            if path.stem.lstrip("-").isdigit() and int(path.stem) < before_day:
                path.unlink(missing_ok=True)
