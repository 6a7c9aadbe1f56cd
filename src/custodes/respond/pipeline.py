"""Respond to every incident at once: scope it and write its documents (what `custodes demo` runs
after detection)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from custodes.errors import CustodesError
from custodes.respond import documents, report as reports
from custodes.workspace import Workspace

if TYPE_CHECKING:
    from custodes.engine import Engine

SERIOUS = ("high", "critical")
#: (document, language, format): the Korean PIPC report and the English GDPR notification
DEMO_DOCUMENTS = (("pipc", "ko", "pdf"), ("gdpr33", "en", "pdf"))


def respond_all(engine: Engine, workspace: Workspace, docs=DEMO_DOCUMENTS, severities=SERIOUS, discovered_at=None) -> list[dict]:
    """For each incident of the given severities: its scope (CONTRACT.md §3 JSON) and the paths of
    its documents under WORKSPACE/respond/reports/, keyed ``DOC-LANG.FORMAT``. An incident whose
    evidence matches no request is listed with its reason instead of an empty report."""
    from custodes.detect.store import load_incidents

    done = []
    for incident in load_incidents(workspace):
        if incident.get("severity") not in severities:
            continue
        entry = {"incident_id": incident["incident_id"], "severity": incident["severity"], "title": incident["title"]}
        try:
            built = reports.build(engine, workspace, incident["incident_id"], discovered_at=discovered_at)
        except CustodesError as exc:
            done.append(dict(entry, error=str(exc)))
            continue
        entry["scope"] = built.scope.to_json()
        entry["draft"] = [reports.REQUIRED[m] for m in built.missing]
        entry["reports"], entry["failed"] = {}, {}
        for doc, lang, fmt in docs:
            try:
                entry["reports"][f"{doc}-{lang}.{fmt}"] = str(documents.write(workspace, built, doc, lang, fmt))
            except CustodesError as exc:  # no Pango: say so once, and still leave the document as HTML
                entry["failed"][f"{doc}-{lang}.{fmt}"] = str(exc)
                if fmt != "html":
                    entry["reports"][f"{doc}-{lang}.html"] = str(documents.write(workspace, built, doc, lang, "html"))
        done.append(entry)
    return done
