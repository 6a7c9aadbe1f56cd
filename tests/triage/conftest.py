"""Fixtures for triage: the console's hand-made world, with its incidents also stored as
detection results (triage reads the workspace's incidents), and users of each role."""

from __future__ import annotations

import shutil

import pytest
from starlette.testclient import TestClient

from custodes.console.app import create_app
from custodes.console.users import UserStore
from custodes.detect import store
from custodes.workspace import Workspace

from ..console import world
from ..console.helpers import PASSWORDS, ROLES, HandMadeSources, login


def stored_world(ws: Workspace) -> None:
    findings = [dict(f, window=f["first_seen"][:10]) for f in world.FINDINGS]
    incidents = [dict(i, rule_ids=sorted({f["rule_id"] for f in findings if f["incident_id"] == i["incident_id"]}),
                      detected_at="2025-04-16T12:49:00Z") for i in world.INCIDENTS]
    store.save(ws, findings, incidents)


@pytest.fixture(scope="session")
def triage_world_root(tmp_path_factory):
    ws = Workspace.open(tmp_path_factory.mktemp("triage-console") / "ws")
    world.build_lake(ws)
    stored_world(ws)
    users = UserStore.of(ws, log2_n=12)
    for name, password in PASSWORDS.items():
        users.add(name, ROLES[name], password)
    return ws.root


@pytest.fixture
def console_ws(triage_world_root, tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(triage_world_root, root)
    return Workspace.open(root)


@pytest.fixture
def client(console_ws):
    app = create_app(console_ws, sources=HandMadeSources(console_ws), allowed_hosts=["testserver"])
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as c:
        yield c


@pytest.fixture
def as_role(client):
    def _as(name: str):
        r = login(client, name)
        assert r.status_code == 303, r.text
        return client
    return _as
