"""Findings and incidents on disk: ``WORKSPACE/detect/findings.json`` and ``incidents.json``,
0600 (they name people, accounts and addresses), replaced atomically.

Stored findings carry internal keys starting with ``_`` (the group values that locate their
evidence rows); :func:`load_findings` returns the CONTRACT.md §3 shape without them.
"""

from __future__ import annotations

import json

from custodes.workspace import Workspace, atomic_write_bytes, private_dir
from custodes.errors import CustodesError


def _read(workspace: Workspace, name: str) -> list[dict]:
    path = workspace.detect / name
    if not path.exists():
        return []
    return json.loads(path.read_text())


def _write(workspace: Workspace, name: str, items: list[dict]) -> None:
    private_dir(workspace.detect)
    atomic_write_bytes(workspace.detect / name, json.dumps(items, indent=1, ensure_ascii=False).encode())


def public(finding: dict) -> dict:
    return {k: v for k, v in finding.items() if not k.startswith("_")}


def load_findings_raw(workspace: Workspace) -> list[dict]:
    return _read(workspace, "findings.json")


def load_findings(workspace: Workspace) -> list[dict]:
    """Every stored finding, as CONTRACT.md §3 (plus the documented ``window``)."""
    return [public(f) for f in load_findings_raw(workspace)]


def load_incidents_raw(workspace: Workspace) -> list[dict]:
    """Every stored incident as detection grouped it (CONTRACT.md §3), without triage."""
    return _read(workspace, "incidents.json")


def load_incidents(workspace: Workspace) -> list[dict]:
    """Every stored incident, as CONTRACT.md §3, with its triage: ``state``, ``assignee``,
    ``suppressed`` and ``previous_incident_ids`` (docs/alerts.md)."""
    from custodes.triage import annotate

    return annotate(workspace, load_incidents_raw(workspace))


def incident(workspace: Workspace, incident_id: str) -> dict:
    """The stored incident ``incident_id`` with its triage (as :func:`load_incidents`); a
    CustodesError saying what to run when there is none."""
    incidents = load_incidents(workspace)
    for item in incidents:
        if item["incident_id"] == incident_id:
            return item
    raise unknown_incident(incident_id, bool(incidents))


def unknown_incident(incident_id: str, any_stored: bool) -> CustodesError:
    """The one wording of an incident id that names no stored incident."""
    hint = "see `custodes incidents`" if any_stored else "run `custodes detect` first"
    return CustodesError(f"unknown incident {incident_id!r}; {hint}")


def incident_findings(workspace: Workspace, incident: dict, raw: bool = False) -> list[dict]:
    """The stored findings of ``incident`` (with the internal ``_`` keys when ``raw``)."""
    wanted = set(incident.get("finding_ids") or [])
    findings = load_findings_raw(workspace) if raw else load_findings(workspace)
    return [f for f in findings if f.get("finding_id") in wanted or f.get("incident_id") == incident["incident_id"]]


def save(workspace: Workspace, findings: list[dict], incidents: list[dict]) -> None:
    _write(workspace, "findings.json", findings)
    _write(workspace, "incidents.json", incidents)
