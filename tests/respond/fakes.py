"""Stand-ins for detect's interface (custodes.detect.store / custodes.detect.evidence) so the
report and --incident paths are tested against the documented shapes on the hand-made world."""

from __future__ import annotations

import types

INCIDENT = {
    "incident_id": "i-forgery",
    "title": "Tokens signed with kid k-old that the authorization server never issued",
    "severity": "critical",
    "first_seen": "2025-04-14T03:00:00Z",
    "last_seen": "2025-04-15T03:00:00Z",
    "finding_ids": ["f-1"],
    "entities": {"kid": ["k-old"], "src_ip": ["203.0.113.7", "203.0.113.9"], "credential_id": [],
                 "actor_id": [], "employee_id": ["e-ex"]},
}
FINDING = {
    "finding_id": "f-1", "rule_id": "token.unissued", "title": INCIDENT["title"], "severity": "critical",
    "attack": ["T1606"], "first_seen": "2025-04-14T03:00:00Z", "last_seen": "2025-04-15T03:00:00Z",
    "detected_at": "2025-04-15T06:00:00Z", "entities": INCIDENT["entities"],
    "evidence": {"requests": 5, "accounts": 3}, "incident_id": "i-forgery",
}


def incident_requests(engine, workspace, incident_id):
    """The forged requests: kid k-old with a token the issuance log does not hold."""
    access, issuance = engine.table("access"), engine.table("issuance")
    return access.filter((access.token_kid == "k-old") & ~access.credential_id_key.isin(issuance.token_id_key))


def install_fake_detect(setitem):
    store = types.ModuleType("custodes.detect.store")
    store.load_incidents = lambda workspace: [dict(INCIDENT)]
    store.load_findings = lambda workspace: [dict(FINDING)]
    evidence = types.ModuleType("custodes.detect.evidence")
    evidence.incident_requests = incident_requests
    setitem("custodes.detect.store", store)
    setitem("custodes.detect.evidence", evidence)
