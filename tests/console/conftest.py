"""Fixtures for the console: the hand-made world on disk, users of each role, a logged-in client."""

from __future__ import annotations

import shutil

import pytest
from starlette.testclient import TestClient

from custodes.console.app import create_app
from custodes.console.users import UserStore
from custodes.workspace import Workspace

from . import world
from .helpers import PASSWORDS, ROLES, HandMadeSources, login


@pytest.fixture(scope="session")
def world_root(tmp_path_factory):
    ws = Workspace.open(tmp_path_factory.mktemp("console") / "ws")
    world.build_lake(ws)
    store = UserStore.of(ws, log2_n=12)  # cheaper hashes keep the suite fast; format is the same
    for name, password in PASSWORDS.items():
        store.add(name, ROLES[name], password)
    return ws.root


@pytest.fixture
def ws(world_root, tmp_path):
    """A fresh copy of the console's own files per test (audit trail), over the shared lake."""
    root = tmp_path / "ws"
    shutil.copytree(world_root, root)
    return Workspace.open(root)


@pytest.fixture
def app(ws):
    return create_app(ws, sources=HandMadeSources(ws), allowed_hosts=["testserver"])


@pytest.fixture
def client(app):
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as c:
        yield c


@pytest.fixture
def as_role(client):
    def _as(name: str):
        r = login(client, name)
        assert r.status_code == 303, r.text
        return client
    return _as


# A real redis-server on a free loopback port: the guard's fixture, shared rather than copied.
from tests.guard.conftest import redis_url  # noqa: E402,F401


@pytest.fixture
def console_redis(redis_url, ws):  # noqa: F811 - the imported fixture
    """An emptied Redis, named as the console's in the workspace's custodes.yaml."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()
    ws.config_path.write_text(f"console:\n  redis: {redis_url}\n")
    return redis_url
