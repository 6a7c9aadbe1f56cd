"""The access rows behind findings and incidents (what scope counts for ``--incident``).

An incident's requests are the evidence rows of its findings of the highest evidence rank:
for the key forgery, the requests carrying tokens nobody issued (not the legitimate traffic
that shares the key); for a departed employee's credential, its requests after termination;
for a curious insider, the employee's reads on the days flagged. Behavioural findings (rank 1)
only speak for an incident when nothing more exact does (e.g. issuance withheld).
"""

from __future__ import annotations

from typing import TYPE_CHECKING


import ibis

from custodes.detect import posture, store
from custodes.detect.registry import all_rules
from custodes.detect.lakefacts import available_datasets, data_bounds
from custodes.detect.rule import Context, day_number, day_start
from custodes.workspace import Workspace

if TYPE_CHECKING:
    from custodes.engine import Engine


def findings_requests(engine: Engine, findings: list[dict], rules=None, workspace: Workspace | None = None) -> ibis.Table | None:
    """Access rows behind the given stored findings (event findings only), distinct."""
    by_id = {r.id: r for r in (rules or all_rules(workspace))}
    first, now = data_bounds(engine)
    available = available_datasets(engine)
    config = posture.detect_settings(workspace) if workspace is not None else {}
    access_columns = engine.table("access").columns
    parts = []
    for rule_id in sorted({f["rule_id"] for f in findings}):
        rule = by_id.get(rule_id)
        mine = [f for f in findings if f["rule_id"] == rule_id and f.get("_day") is not None]
        if rule is None or not mine or not rule.has_rows or rule.kind != "event":
            continue
        flagged = [{"day": f["_day"], **f["_group"]} for f in mine]
        ctx = Context(engine, now, day_start(min(f["day"] for f in flagged)), config, available,
                      day_number(first))
        parts.append(rule.scope_rows(ctx, flagged).select(*access_columns))
    if not parts:
        return None
    out = parts[0]
    for part in parts[1:]:
        out = out.union(part)
    return out.distinct()


def incident_requests(engine: Engine, workspace: Workspace, incident: str | dict) -> ibis.Table:
    """The access rows that are the incident's malicious requests (see the module docstring).
    ``incident``: its id, or the stored incident when the caller loaded it already."""
    if isinstance(incident, str):
        incident = store.incident(workspace, incident)
    findings = store.incident_findings(workspace, incident, raw=True)
    rules = all_rules(workspace)
    rank = {r.id: r.evidence_rank for r in rules}
    ranked = [f for f in findings if rank.get(f["rule_id"], 0) > 0 and f.get("_day") is not None]
    if ranked:
        best = max(rank[f["rule_id"]] for f in ranked)
        chosen = [f for f in ranked if rank[f["rule_id"]] == best]
        table = findings_requests(engine, chosen, rules, workspace)
        if table is not None:
            return table
    # Posture-only incidents (a key outliving its custodian) have no requests: an empty table.
    access = engine.table("access")
    return access.filter(ibis.literal(False))
