"""Following an incident whose id changes.

An incident's id hashes its earliest finding's id (detect/incidents.py), so it changes when an
earlier finding joins it (late events, a re-run with ``--full`` over more data) or when two
incidents merge. What was decided about it (its triage) and what was said about it (its alerts)
must follow it. Both are remembered with the finding ids the incident held then; an incident is
matched to what is remembered by the findings they share.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class Trace:
    #: remembered ids no longer current whose findings this incident now holds: they live on as it
    retired: list[str] = field(default_factory=list)
    #: for an incident with nothing remembered under its own id, the remembered id it continues
    inherit: str | None = None


def trace(incidents: list[dict], known: dict[str, Iterable[str]]) -> dict[str, Trace]:
    """Per current incident, the remembered ids (keys of ``known``, mapped to the finding ids
    they held) it continues. A retired id goes to the one incident sharing most of its
    findings; an incident inherits from the remembered id sharing most of its own."""
    owner: dict[str, set[str]] = {}
    for rid, finding_ids in known.items():
        for fid in finding_ids:
            owner.setdefault(fid, set()).add(rid)
    current = {i["incident_id"] for i in incidents}
    shared: dict[str, dict[str, int]] = {}
    for inc in incidents:
        counts: dict[str, int] = {}
        for fid in inc.get("finding_ids") or []:
            for rid in owner.get(fid, ()):
                if rid != inc["incident_id"]:
                    counts[rid] = counts.get(rid, 0) + 1
        shared[inc["incident_id"]] = counts
    traces = {iid: Trace() for iid in shared}
    for iid, counts in shared.items():
        if iid not in known and counts:
            traces[iid].inherit = _most(counts)
    heirs: dict[str, dict[str, int]] = {}
    for iid, counts in shared.items():
        for rid, n in counts.items():
            if rid not in current:
                heirs.setdefault(rid, {})[iid] = n
    for rid, candidates in sorted(heirs.items()):
        traces[_most(candidates)].retired.append(rid)
    return traces


def _most(counts: dict[str, int]) -> str:
    """The id with the highest count; ties go to the smallest id, so every run agrees."""
    return min(counts, key=lambda k: (-counts[k], k))


def ancestry(merged: dict[str, str], traces: dict[str, Trace]) -> dict[str, list[str]]:
    """Per current incident, every id it had before, through any number of changes:
    ``merged`` maps remembered ids to the id they live on as; ``traces`` adds this run's."""
    into: dict[str, list[str]] = {}
    for rid, heir in merged.items():
        into.setdefault(heir, []).append(rid)
    for cur, t in traces.items():
        into.setdefault(cur, []).extend(t.retired)
        if t.inherit and t.inherit not in into[cur]:
            into[cur].append(t.inherit)
    out = {}
    for cur in traces:
        seen, todo = [], list(into.get(cur, []))
        while todo:
            rid = todo.pop()
            if rid not in seen and rid != cur:
                seen.append(rid)
                todo += into.get(rid, [])
        out[cur] = sorted(seen)
    return out
