"""What a detection run needs to know about the lake before it starts, read in one query.

Per dataset: the highest ``_seq`` stored (where the next run starts). For the event datasets
also the first and last event time among the rows stored after a given ``_seq``: with the
last run's seq, the first day to recompute and how far the data (access: the run's data-time
now) and the ledger (issuance: which requests wait for it) have come; with none, the whole lake's
bounds. The time filter on ``_seq`` lets the engine skip every file an earlier run read, so an
hourly run reads the new hour's times only, and one query replaces a dozen: on a small run,
starting queries costs more than scanning.

Data time is defined here, once: the workspace's now is the latest access event time, and when
it holds no access event, the latest issuance time (:func:`data_now`; the posture page and
offboarding judge by it). Detection needs access rows, so its now is always the latest access
event (:func:`data_bounds`, or the run's facts: the same maximum, kept incrementally).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ibis

from custodes.contract import DATASET_NAMES, EVENT_TIME_COLUMN
from custodes.errors import CustodesError

if TYPE_CHECKING:
    from custodes.engine import Engine

UTC = dt.timezone.utc


#: the datasets whose latest event is the workspace's data-time now, in order of preference
NOW_DATASETS = ("access", "issuance")


def available_datasets(engine: Engine) -> frozenset:
    return frozenset(d for d in DATASET_NAMES if engine.has(d))


def _span(engine: Engine, dataset: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(first, last) event time of ``dataset``; (None, None) when it is absent or empty."""
    if not engine.has(dataset):
        return None, None
    t = engine.table(dataset)
    row = engine.to_arrow(t.aggregate(first=t.time.min(), last=t.time.max())).to_pylist()[0]
    return as_utc(row["first"]), as_utc(row["last"])


def data_bounds(engine: Engine) -> tuple[dt.datetime, dt.datetime]:
    """(first, last) access time: a detection run's data-time now is the last."""
    first, last = _span(engine, "access")
    if first is None or last is None:
        raise CustodesError("the access dataset is empty: nothing to detect")
    return first, last


def data_now(engine: Engine) -> dt.datetime | None:
    """The workspace's data-time now: the latest access event, else the latest issuance event;
    None when it holds neither."""
    for dataset in NOW_DATASETS:
        last = _span(engine, dataset)[1]
        if last is not None:
            return last
    return None


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
            facts.first_new[dataset], facts.last_new[dataset] = as_utc(row["first"]), as_utc(row["last"])
        else:
            facts.marks[dataset] = int(row["seq"] or 0)
    return facts


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """An engine's timestamp as an aware UTC datetime (engines differ in what they return)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
