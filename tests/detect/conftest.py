from __future__ import annotations

import pytest

from . import world as hand_world


@pytest.fixture(scope="session")
def world_tables():
    return hand_world.build()


def engine_over(tables, backend="duckdb", drop=()):
    from custodes.engine import connect

    engine = connect(None, backend)
    for name, table in tables.items():
        if name not in drop:
            engine.register(name, table)
    return engine


@pytest.fixture(scope="session")
def duck(world_tables):
    return engine_over(world_tables)


@pytest.fixture(scope="session")
def all_findings(duck):
    from custodes.detect.run import evaluate

    return evaluate(duck)
