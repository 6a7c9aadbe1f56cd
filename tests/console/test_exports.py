"""The console's CSV exports carry a forger's subs as text, never as spreadsheet formulas: the
attacker's access log goes through the real ingest and detect, then out through the console."""

from __future__ import annotations

import csv
import io

import pytest
from starlette.testclient import TestClient

from custodes.console.app import create_app
from custodes.console.users import UserStore
from custodes.workspace import Workspace
from tests.respond import hostile

from .helpers import PASSWORDS, ROLES, csrf_of, login


@pytest.fixture(scope="module")
def hostile_ws(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile-console")
    ws = Workspace.open(folder / "ws")
    hostile.build(ws, folder)
    store = UserStore.of(ws, log2_n=12)
    store.add("adam", ROLES["adam"], PASSWORDS["adam"])
    return ws


@pytest.mark.parametrize("export", ["accounts.csv", "notification-list.csv"])
def test_console_exports_neutralise_formulas(hostile_ws, export):
    incident_id = hostile.forged_incident(hostile_ws)["incident_id"]
    app = create_app(hostile_ws, allowed_hosts=["testserver"])
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as client:
        assert login(client, "adam").status_code == 303
        page = client.get(f"/incidents/{incident_id}")
        assert page.status_code == 200, page.text
        r = client.post(f"/incidents/{incident_id}/{export}", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 200, r.text
    rows = list(csv.reader(io.StringIO(r.text, newline="")))
    assert len(rows) > 1
    assert not [cell for row in rows for cell in row if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "'" + hostile.FORMULA_SUBS[0] in {row[0] for row in rows}
