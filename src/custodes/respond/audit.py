"""The respond audit trail: who exported or applied what, and when (wall-clock time, since it
records people's actions, not data). One JSON object a line in WORKSPACE/respond/audit.jsonl, 0600.
It holds counts, paths and digests, never the personal data itself."""

from __future__ import annotations

import datetime as dt
import getpass
import json

from custodes.clikit import dumps
from custodes.timefmt import iso
from custodes.workspace import Workspace, private_dir, private_open


def audit_path(workspace: Workspace):
    return private_dir(workspace.respond) / "audit.jsonl"


def audit(workspace: Workspace, action: str, by: str | None = None, **details) -> dict:
    entry = {"at": iso(dt.datetime.now(dt.timezone.utc)), "action": action, "by": by or getpass.getuser(), **details}
    with private_open(audit_path(workspace), "a", encoding="utf-8") as fh:
        fh.write(dumps(entry, indent=None) + "\n")
    return entry


def read_audit(workspace: Workspace) -> list[dict]:
    path = workspace.respond / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
