"""Fixtures for triage in the console: the console tests' world and users (their fixtures,
reused), with the world's incidents also stored as detection results, since triage reads the
workspace's incidents."""

from __future__ import annotations

import shutil

import pytest

from custodes.detect import store
from custodes.workspace import Workspace

from ..console import world
from ..console.conftest import app, as_role, client, world_root  # noqa: F401 - fixtures reused


def stored_world(ws: Workspace) -> None:
    findings = [dict(f, window=f["first_seen"][:10]) for f in world.FINDINGS]
    incidents = [dict(i, rule_ids=sorted({f["rule_id"] for f in findings if f["incident_id"] == i["incident_id"]}),
                      detected_at="2025-04-16T12:49:00Z") for i in world.INCIDENTS]
    store.save(ws, findings, incidents)


@pytest.fixture(scope="session")
def triage_world_root(world_root, tmp_path_factory):  # noqa: F811
    root = tmp_path_factory.mktemp("triage-console") / "ws"
    shutil.copytree(world_root, root)
    stored_world(Workspace.open(root))
    return root


@pytest.fixture
def ws(triage_world_root, tmp_path):
    """A fresh copy per test (the console's `app` and `client` fixtures run over it)."""
    root = tmp_path / "ws"
    shutil.copytree(triage_world_root, root)
    return Workspace.open(root)
