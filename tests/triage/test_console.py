"""Triage in the console: analysts and admins act through CSRF-checked POSTs, each recorded
with the signed-in user and audited; viewers cannot; a forged or cross-site POST is refused."""

from __future__ import annotations

import json

from custodes import triage
from custodes.detect import store

from ..console.helpers import csrf_of


def audit_entries(ws):
    path = ws.root / "console" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def _post(client, path, **data):
    token = csrf_of(client.get("/incidents/i-forgery").text)
    return client.post(path, data={"csrf": token, **data})


def test_analyst_acknowledges_assigns_and_notes_recorded_with_their_name(as_role, ws):
    client = as_role("anna")
    page = client.get("/incidents/i-forgery")
    assert 'id="triage-actions"' in page.text and "Acknowledge" in page.text
    assert _post(client, "/incidents/i-forgery/triage", action="ack").status_code == 303
    assert _post(client, "/incidents/i-forgery/triage", action="assign", assignee="bob").status_code == 303
    assert _post(client, "/incidents/i-forgery/triage", action="note", note="forged tokens, k-2019").status_code == 303
    inc = next(i for i in store.load_incidents(ws) if i["incident_id"] == "i-forgery")
    assert (inc["state"], inc["assignee"], inc["suppressed"]) == ("acknowledged", "bob", False)
    hist = triage.history(ws, "i-forgery")
    assert [(h["action"], h["by"], h["via"]) for h in hist] == [
        ("ack", "anna", "console"), ("assign", "anna", "console"), ("note", "anna", "console")]
    assert hist[-1]["note"] == "forged tokens, k-2019"
    actions = [(e["action"], e["user"], e["target"]) for e in audit_entries(ws)]
    assert ("triage.ack", "anna", "i-forgery") in actions and ("triage.note", "anna", "i-forgery") in actions
    page = client.get("/incidents/i-forgery").text
    assert 'id="triage-state">acknowledged' in page and "forged tokens, k-2019" in page


def test_viewer_cannot_triage_and_the_attempt_is_audited(as_role, ws):
    client = as_role("vera")
    page = client.get("/incidents/i-forgery").text
    assert 'id="triage-actions"' not in page
    token = csrf_of(page)
    r = client.post("/incidents/i-forgery/triage", data={"csrf": token, "action": "resolve"})
    assert r.status_code == 403
    assert store.load_incidents(ws)[0]["state"] == "new"
    assert audit_entries(ws)[-1]["action"] == "denied"


def test_triage_without_the_csrf_token_is_refused(as_role, ws):
    client = as_role("anna")
    client.get("/incidents/i-forgery")
    r = client.post("/incidents/i-forgery/triage", data={"csrf": "forged", "action": "resolve"})
    assert r.status_code == 403
    r = client.post("/incidents/i-forgery/suppress", data={"csrf": "forged", "what": "rule:token.unissued",
                                                          "duration": "7d", "reason": "x"})
    assert r.status_code == 403
    assert all(i["state"] == "new" and not i["suppressed"] for i in store.load_incidents(ws))
    assert triage.suppressions(ws) == []
    assert audit_entries(ws)[-1]["action"] == "csrf_refused"


def test_cross_site_triage_post_is_refused_even_with_the_token(as_role, ws):
    client = as_role("anna")
    token = csrf_of(client.get("/incidents/i-forgery").text)
    r = client.post("/incidents/i-forgery/triage", data={"csrf": token, "action": "resolve"},
                    headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403
    assert store.load_incidents(ws)[0]["state"] == "new"


def test_suppress_and_lift_from_the_incident_page(as_role, ws):
    client = as_role("adam")
    r = _post(client, "/incidents/i-departed/suppress", what="entity:credential_id=ak-1", duration="1d",
              reason="rotation drill")
    assert r.status_code == 303
    departed = next(i for i in store.load_incidents(ws) if i["incident_id"] == "i-departed")
    assert departed["suppressed"] is True
    (s,) = triage.suppressions(ws)
    assert (s.created_by, s.entity_key, s.entity_value, s.reason) == ("adam", "credential_id", "ak-1", "rotation drill")
    page = client.get("/incidents/i-departed").text
    assert 'id="triage-suppressed">suppressed' in page and s.suppression_id in page
    assert _post(client, f"/incidents/i-departed/suppressions/{s.suppression_id}/lift").status_code == 303
    departed = next(i for i in store.load_incidents(ws) if i["incident_id"] == "i-departed")
    assert departed["suppressed"] is False
    actions = [e["action"] for e in audit_entries(ws)]
    assert "triage.suppress" in actions and "triage.lift" in actions


def test_a_bad_triage_form_is_refused_with_a_message(as_role, ws):
    client = as_role("anna")
    assert _post(client, "/incidents/i-forgery/triage", action="delete").status_code == 400
    r = _post(client, "/incidents/i-forgery/triage", action="note", note="bad \x1b[2J escape")
    assert r.status_code == 400 and "control character" in r.text
    assert _post(client, "/incidents/i-forgery/suppress", what="rule:token.unissued", duration="forever",
                 reason="x").status_code == 400
