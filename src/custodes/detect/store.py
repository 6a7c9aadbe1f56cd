"""Findings and incidents on disk: ``WORKSPACE/detect/findings.json`` and ``incidents.json``,
0600 (they name people, accounts and addresses), replaced atomically.

Stored findings carry internal keys starting with ``_`` (the group values that locate their
evidence rows); :func:`load_findings` returns the CONTRACT.md §3 shape without them.
"""

from __future__ import annotations

import json

from custodes.workspace import Workspace, atomic_write_bytes, private_dir


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


def save(workspace: Workspace, findings: list[dict], incidents: list[dict]) -> None:
    _write(workspace, "findings.json", findings)
    _write(workspace, "incidents.json", incidents)
