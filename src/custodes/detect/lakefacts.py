"""What a detection run needs to know about the lake before it starts, read in one query.

Per dataset: the highest ``_seq`` stored (what the next run starts after). For the event
datasets also: the first and last event time (the run's data-time now is the last access
time; the last issuance time says how far the ledger has arrived), and the earliest event
time among the rows stored after a given ``_seq`` (the first day a run must recompute).
One query instead of a dozen: on a small hourly run, compiling and starting queries costs more
than scanning the two columns.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis

from custodes.contract import EVENT_TIME_COLUMN

UTC = dt.timezone.utc


@dataclass
class LakeFacts:
    marks: dict[str, int]
    first: dict[str, dt.datetime | None]
    last: dict[str, dt.datetime | None]
    first_new: dict[str, dt.datetime | None]  # earliest event time stored after the known seq


def read(engine, available, known: dict[str, int]) -> LakeFacts:
    """The facts of every available dataset; ``known``: per dataset, the seq already processed."""
    parts = []
    stamp = None
    for dataset in sorted(available):
        t = engine.table(dataset)
        if "_seq" not in t.columns:
            continue
        if dataset in EVENT_TIME_COLUMN:
            time = t[EVENT_TIME_COLUMN[dataset]]
            stamp = time.type()
            parts.append((dataset, t.aggregate(
                dataset=ibis.literal(dataset), seq=t._seq.max(), first=time.min(), last=time.max(),
                first_new=time.min(where=t._seq > known.get(dataset, 0)))))
        else:
            parts.append((dataset, t.aggregate(dataset=ibis.literal(dataset), seq=t._seq.max())))
    if not parts:
        return LakeFacts({}, {}, {}, {})
    stamp = stamp or ibis.dtype("timestamp('UTC')")
    none = ibis.null(stamp)
    shaped = [q if name in EVENT_TIME_COLUMN else q.mutate(first=none, last=none, first_new=none)
              for name, q in parts]
    shaped = [q.select("dataset", "seq", first=q.first.cast(stamp), last=q.last.cast(stamp),
                       first_new=q.first_new.cast(stamp)) for q in shaped]
    rows = engine.to_arrow(ibis.union(*shaped)).to_pylist() if len(shaped) > 1 else \
        engine.to_arrow(shaped[0]).to_pylist()
    facts = LakeFacts({}, {}, {}, {})
    for row in rows:
        facts.marks[row["dataset"]] = int(row["seq"] or 0)
        if row["dataset"] in EVENT_TIME_COLUMN:
            facts.first[row["dataset"]] = _utc(row["first"])
            facts.last[row["dataset"]] = _utc(row["last"])
            facts.first_new[row["dataset"]] = _utc(row["first_new"])
    return facts


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
