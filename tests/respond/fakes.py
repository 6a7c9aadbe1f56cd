"""Stand-ins for detect's stored results (custodes.detect.store) and evidence query so the
report and --incident paths are tested against the documented shapes on the hand-made world."""

from __future__ import annotations


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


def findings_requests(engine, findings, rules=None, workspace=None):
    """The forged requests: kid k-old with a token the issuance log does not hold."""
    access, issuance = engine.table("access"), engine.table("issuance")
    return access.filter((access.token_kid == "k-old") & ~access.credential_id_key.isin(issuance.token_id_key))


def install_fake_detect(setattr):
    """Detect's stored incident and finding, and the query of their evidence rows; the lookup
    (custodes.detect.store.incident) and the choice of evidence are detect's own."""
    from custodes.detect import evidence, store

    setattr(store, "load_incidents", lambda workspace: [dict(INCIDENT)])
    setattr(store, "load_findings", lambda workspace: [dict(FINDING)])
    setattr(store, "load_findings_raw", lambda workspace: [dict(FINDING, _day=20192, _group={})])
    setattr(evidence, "findings_requests", findings_requests)
