"""The lake page over a lake really ingested by custodes.lake: status, and verifying seals from
the console (a CSRF-protected, audited POST) that notices a tampered partition."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from starlette.testclient import TestClient

from custodes import contract
from custodes.console.app import create_app
from custodes.console.sources import Sources
from custodes.console.users import UserStore
from custodes.workspace import Workspace

from . import world
from .helpers import PASSWORDS, csrf_of, login

lake = pytest.importorskip("custodes.lake", reason="the lake capability is not in this build")


@pytest.fixture
def ingested(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    rows = [r for day in world.access_rows().values() for r in day]
    src = tmp_path / "access.parquet"
    pq.write_table(contract.conform("access", pa.Table.from_pylist(rows, schema=contract.schema("access"))), src)
    lake.ingest(ws, "access", [src])
    UserStore.of(ws, log2_n=12).add("anna", "analyst", PASSWORDS["anna"])
    return ws, len(rows)


def test_status_and_verify_from_the_console(ingested):
    ws, n = ingested
    app = create_app(ws, sources=Sources(ws), allowed_hosts=["testserver"])
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as c:
        assert login(c, "anna").status_code == 303
        html = c.get("/lake").text
        assert f">{n:,}</td>" in html and "2025-04-16 12:49:00" in html
        token = csrf_of(html)
        assert c.post("/lake/verify", data={"csrf": "wrong"}).status_code == 403
        html = c.post("/lake/verify", data={"csrf": token}).text
        assert 'id="verify-result"' in html and "intact" in html
        part = next(ws.dataset_dir("access").rglob("part-*.parquet"))
        part.write_bytes(part.read_bytes()[:-8] + b"tampered")
        html = c.post("/lake/verify", data={"csrf": token}).text
        assert "Verification FAILED" in html and "altered" in html
    from custodes.console.audit import AuditTrail
    from custodes.console.users import console_dir

    results = [e["detail"]["ok"] for e in AuditTrail(console_dir(ws) / "audit.jsonl").tail(50)
               if e["action"] == "verify.lake"]
    assert results == [False, True]  # newest first
