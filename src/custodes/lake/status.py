"""What a workspace holds (``custodes status``) and what it refused (``custodes quarantine``).

Both read the manifest, never the stored rows, so they answer in milliseconds at any size.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from custodes import anchor, contract
from custodes.errors import CustodesError
from custodes.lake import manifest
from custodes.lake.store import QUARANTINE_SCHEMA
from custodes.workspace import Workspace


def status(workspace: Workspace) -> dict:
    """CONTRACT.md §3: ``datasets`` -> {rows, quarantined, files, first_time, last_time}
    (plus ``partitions``: stored Parquet files), and ``seals``: the chain's state."""
    entries = manifest.entries(workspace)
    datasets: dict[str, dict] = {}
    for e in entries:
        d = datasets.setdefault(e["dataset"], {"rows": 0, "quarantined": 0, "files": 0, "first_time": None,
                                               "last_time": None, "partitions": 0})
        d["rows"] += e["rows"]
        d["quarantined"] += e["quarantined"]
        d["files"] += 1
        d["partitions"] += len(e["files"])
        d["first_time"] = _min(d["first_time"], e.get("first_time"))
        d["last_time"] = _max(d["last_time"], e.get("last_time"))
    for d in datasets.values():
        d["first_time"] = _second(d["first_time"])
        d["last_time"] = _second(d["last_time"])
    order = {name: i for i, name in enumerate(contract.DATASET_NAMES)}
    head = manifest.read_head(workspace)
    return {
        "datasets": dict(sorted(datasets.items(), key=lambda kv: order.get(kv[0], 99))),
        "seals": {
            "entries": len(entries),
            "head_seq": head.get("seq") if head else None,
            "head": head.get("seal") if head else None,
            "signed": bool(head and head.get("signature")),
            "verified": None,  # status never hashes; run `custodes verify`
            "anchor_pending": anchor.pending(workspace),  # heads whose anchoring failed, to be retried
        },
        "seq_high_water": entries[-1]["seq"] if entries else 0,
    }


def _min(a, b):
    return b if a is None else a if b is None else min(a, b)


def _max(a, b):
    return b if a is None else a if b is None else max(a, b)


def _second(iso: str | None) -> str | None:
    """Entries keep microseconds; status prints RFC 3339 to the second like every JSON output."""
    return None if iso is None else iso[:19] + "Z"


def seq_high_water(workspace: Workspace) -> int:
    """The highest committed ``_seq``: detection processes rows with ``_seq`` above its last
    run's value, and at most this (rows of an ingest still in flight carry a higher one)."""
    return manifest.high_water(workspace)


def quarantined(workspace: Workspace, dataset: str | None = None, limit: int | None = None) -> pa.Table:
    """Quarantined rows (dataset, file, row, column, reason, value, _seq), oldest ingest first."""
    if dataset is not None and dataset not in contract.DATASETS:
        raise CustodesError(f"unknown dataset {dataset!r}; expected one of {', '.join(contract.DATASET_NAMES)}")
    tables, total = [], 0
    for e in manifest.entries(workspace):
        q = e.get("quarantine_file")
        if not q or (dataset and e["dataset"] != dataset):
            continue
        try:
            t = pq.read_table(workspace.root / q["path"])
        except (OSError, pa.ArrowException) as exc:
            raise CustodesError(f"{q['path']}: unreadable quarantine file ({exc}); run `custodes verify`") from None
        t = t.add_column(0, "dataset", pa.repeat(pa.scalar(e["dataset"]), t.num_rows))
        tables.append(t)
        total += t.num_rows
        if limit is not None and total >= limit:
            break
    schema = pa.schema([pa.field("dataset", pa.string())] + list(QUARANTINE_SCHEMA))
    out = pa.concat_tables([t.cast(schema) for t in tables]) if tables else schema.empty_table()
    return out.slice(0, limit) if limit is not None else out
