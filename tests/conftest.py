"""Shared fixtures. Services (redis-server, nginx) are started by the tests that need them, on
loopback ports; Spark runs in local mode, one session for the whole run."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


@pytest.fixture
def workspace(tmp_path):
    from custodes.workspace import Workspace

    return Workspace.open(tmp_path / "ws")


@pytest.fixture(scope="session")
def spark_engine():
    from custodes.engine import connect

    return connect(None, "spark")
