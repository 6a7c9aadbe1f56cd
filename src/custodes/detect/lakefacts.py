"""What a detection run needs to know about the lake before it starts, read in one query.

Per dataset: the highest ``_seq`` stored (where the next run starts). For the event datasets
also the first and last event time among the rows stored after a given ``_seq``: with the
last run's seq, the first day to recompute and how far the data (access: the run's data-time
now) and the ledger (issuance: which requests wait for it) have come; with none, the whole lake's
bounds. The time filter on ``_seq`` lets the engine skip every file an earlier run read, so an
hourly run reads the new hour's times only, and one query replaces a dozen: on a small run,
starting queries costs more than scanning.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ibis

from custodes.contract import EVENT_TIME_COLUMN

if TYPE_CHECKING:
    from custodes.engine import Engine

UTC = dt.timezone.utc


@dataclass
class LakeFacts:
    marks: dict[str, int]
    first_new: dict[str, dt.datetime | None]  # earliest event time stored after the known seq
    last_new: dict[str, dt.datetime | None]   # latest one


def read(engine: Engine, available, known: dict[str, int]) -> LakeFacts:
    """The facts of every available dataset; ``known``: per dataset, the seq already read."""
    parts = []
    for dataset in sorted(available):
        t = engine.table(dataset)
        if "_seq" not in t.columns:
            continue
        parts.append(t.aggregate(dataset=ibis.literal(dataset), seq=t._seq.max(),
                                 first=ibis.null("timestamp('UTC')"), last=ibis.null("timestamp('UTC')")))
        if dataset in EVENT_TIME_COLUMN:
            new = t.filter(t._seq > known.get(dataset, 0))
            time = new[EVENT_TIME_COLUMN[dataset]].cast("timestamp('UTC')")
            parts.append(new.aggregate(dataset=ibis.literal(f"{dataset}:new"), seq=ibis.null("int64"),
                                       first=time.min(), last=time.max()))
    facts = LakeFacts({}, {}, {})
    if not parts:
        return facts
    for row in engine.to_arrow(ibis.union(*parts) if len(parts) > 1 else parts[0]).to_pylist():
        dataset, _, new = row["dataset"].partition(":")
        if new:
            facts.first_new[dataset], facts.last_new[dataset] = _utc(row["first"]), _utc(row["last"])
        else:
            facts.marks[dataset] = int(row["seq"] or 0)
    return facts


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
