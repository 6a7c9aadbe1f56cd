"""Respond to every incident at once: scope it and write its reports (what `custodes demo` runs
after detection)."""

from __future__ import annotations

from custodes.errors import CustodesError
from custodes.respond import report as reports

SERIOUS = ("high", "critical")


def respond_all(engine, workspace, formats=reports.FORMATS, severities=SERIOUS) -> list[dict]:
    """For each incident of the given severities: its scope (CONTRACT.md §3 JSON) and the paths of
    its reports under WORKSPACE/respond/reports/. An incident whose evidence matches no request is
    listed with its reason instead of an empty report."""
    from custodes.detect.store import load_incidents

    done = []
    for incident in load_incidents(workspace):
        if incident.get("severity") not in severities:
            continue
        entry = {"incident_id": incident["incident_id"], "severity": incident["severity"], "title": incident["title"]}
        try:
            built = reports.build(engine, workspace, incident["incident_id"])
        except CustodesError as exc:
            done.append(dict(entry, error=str(exc)))
            continue
        entry["scope"] = built.scope.to_json()
        entry["reports"] = {fmt: str(reports.write(workspace, built, fmt)) for fmt in formats}
        done.append(entry)
    return done
