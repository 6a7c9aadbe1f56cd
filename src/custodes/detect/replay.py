"""A simulated world's event files replayed in slices of data time, as an always-on deployment
receives them (tests, bench/quality_detect.py, a demo that runs detection hour by hour).

The simulator writes one file per day and dataset (``access/2025-02-03.parquet``); a file may
hold rows of the day before (sessions shipped late) or after (a nightly export running past
midnight). A row is *delivered* at its time clipped to its file's day: late rows arrive with
the first slice of the file's day, rows past midnight with its last.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from custodes.timefmt import epoch_us, parse_iso

UTC = dt.timezone.utc


def day_files(sim_dir: Path, dataset: str) -> list[Path]:
    return sorted((Path(sim_dir) / dataset).glob("*.parquet"))


def _file_day(path: Path) -> dt.datetime:
    return parse_iso(path.stem, str(path), date_ok=True)


def delivered(path: Path, start: dt.datetime, end: dt.datetime) -> pa.Table | None:
    """The rows of one day file delivered in ``[start, end)``; None when there are none."""
    day = _file_day(path)
    if end <= day or start >= day + dt.timedelta(days=1):
        return None
    table = pq.read_table(path)
    micros = table["time"].cast(pa.timestamp("us", "UTC")).cast(pa.int64()).to_numpy()
    at = np.clip(micros, epoch_us(day), epoch_us(day + dt.timedelta(days=1)) - 1)
    table = table.filter(pa.array((at >= epoch_us(start)) & (at < epoch_us(end))))
    return table if table.num_rows else None


def write_slice(sim_dir: Path, dataset: str, start: dt.datetime, end: dt.datetime, out: Path) -> list[Path]:
    """Write the rows of ``dataset`` delivered in ``[start, end)`` under ``out``, one file per
    source file; returns the files written (to give to ``custodes ingest``)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in day_files(sim_dir, dataset):
        rows = delivered(path, start, end)
        if rows is not None:
            target = out / f"{dataset}-{path.stem}-{start:%Y%m%dT%H%M}-{end:%Y%m%dT%H%M}.parquet"
            pq.write_table(rows, target)
            written.append(target)
    return written
