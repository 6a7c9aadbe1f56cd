"""Breach documents from the incident page: analysts and admins download them, a viewer cannot,
the customer notice (names and contacts) is for admins only, and every download is audited. The
incident comes from the attacker's logs through the real ingest and detect."""

from __future__ import annotations

import csv
import io
import json

import pytest
from starlette.testclient import TestClient

from custodes.console.app import create_app
from custodes.console.users import UserStore, console_dir
from custodes.workspace import Workspace
from tests.respond import hostile

from .helpers import PASSWORDS, ROLES, csrf_of, login


@pytest.fixture(scope="module")
def hostile_ws(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile-documents")
    ws = Workspace.open(folder / "ws")
    hostile.build(ws, folder)
    store = UserStore.of(ws, log2_n=12)
    for name, role in ROLES.items():
        store.add(name, role, PASSWORDS[name])
    return ws


def audit_entries(ws) -> list[dict]:
    return [json.loads(line) for line in (console_dir(ws) / "audit.jsonl").read_text().splitlines()]


def download(ws, user, form, csrf=True):
    incident_id = hostile.forged_incident(ws)["incident_id"]
    app = create_app(ws, allowed_hosts=["testserver"])
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as client:
        assert login(client, user).status_code == 303
        page = client.get(f"/incidents/{incident_id}")
        assert page.status_code == 200, page.text
        data = dict(form, csrf=csrf_of(page.text) if csrf else "wrong")
        return page.text, client.post(f"/incidents/{incident_id}/document", data=data)


def test_an_analyst_downloads_the_pipc_report_and_it_is_audited(hostile_ws):
    page, r = download(hostile_ws, "anna", {"doc": "pipc", "lang": "ko", "format": "pdf",
                                            "discovered_at": "2025-04-14T12:00:00+09:00"})
    assert 'id="documents"' in page and 'value="notice"' not in page  # no notice for an analyst
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF-")
    assert "attachment;" in r.headers["content-disposition"] and "-pipc-ko.pdf" in r.headers["content-disposition"]
    last = audit_entries(hostile_ws)[-1]
    assert last["action"] == "export.document" and last["user"] == "anna"
    assert last["detail"] == {"document": "pipc", "lang": "ko", "format": "pdf"}


def test_json_gives_the_same_fields(hostile_ws):
    _, r = download(hostile_ws, "anna", {"doc": "gdpr33", "format": "json"})
    assert r.status_code == 200 and json.loads(r.text)["document"] == "gdpr33"


def test_a_viewer_gets_no_document(hostile_ws):
    page, r = download(hostile_ws, "vera", {"doc": "pipc", "format": "pdf"})
    assert 'id="documents"' not in page
    assert r.status_code == 403 and not r.content.startswith(b"%PDF")
    assert audit_entries(hostile_ws)[-1]["action"] == "denied"


def test_the_customer_notice_is_for_admins(hostile_ws):
    _, r = download(hostile_ws, "anna", {"doc": "notice", "format": "csv"})
    assert r.status_code == 403 and audit_entries(hostile_ws)[-1]["action"] == "denied"
    page, r = download(hostile_ws, "adam", {"doc": "notice", "lang": "en", "format": "csv"})
    assert 'value="notice"' in page and r.status_code == 200, r.text
    rows = list(csv.reader(io.StringIO(r.text, newline="")))
    assert rows[0][0] == "account_id" and len(rows) > 1
    assert not [c for row in rows for c in row if c[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_a_forged_form_gets_nothing(hostile_ws):
    _, r = download(hostile_ws, "adam", {"doc": "pipc", "format": "pdf"}, csrf=False)
    assert r.status_code == 403 and audit_entries(hostile_ws)[-1]["action"] == "csrf_refused"
    for bad in ({"doc": "memo", "format": "pdf"}, {"doc": "pipc", "format": "exe"}, {"doc": "pipc", "lang": "fr"},
                {"doc": "pipc", "format": "pdf", "discovered_at": "soon"}):
        _, r = download(hostile_ws, "adam", bad)
        assert r.status_code == 400, bad
