"""Watch tests: small source files written on the spot, a small simulated world for the cycles
that detect, and a runner for `custodes watch` as its own process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

HEADER = "time,src_ip,method,route,status,actor_type,actor_id,credential_type,request_id\n"


def access_csv(path: Path, first: int, n: int, day: int = 14, complete: bool = True) -> Path:
    """``n`` access rows with request ids ``r<first>``..; the last line unterminated unless
    ``complete`` (a writer caught mid-line)."""
    lines = [f"2025-04-{day:02d}T10:{(first + i) // 60 % 60:02d}:{(first + i) % 60:02d}Z,10.0.0.{i % 250 + 1},GET,"
             f"/api/v1/me,200,customer,u{first + i},access_token,r{first + i}\n" for i in range(n)]
    text = ("" if path.exists() else HEADER) + "".join(lines)
    if not complete:
        text = text[:-1]
    with open(path, "a") as fh:
        fh.write(text)
    return path


def access_jsonl(path: Path, first: int, n: int, day: int = 14, complete: bool = True) -> Path:
    lines = [json.dumps({"time": f"2025-04-{day:02d}T10:{(first + i) // 60 % 60:02d}:{(first + i) % 60:02d}Z",
                         "src_ip": f"10.0.0.{i % 250 + 1}", "method": "GET", "route": "/api/v1/me",
                         "status": 200, "actor_type": "customer", "actor_id": f"u{first + i}",
                         "credential_type": "access_token", "request_id": f"r{first + i}"}) + "\n"
             for i in range(n)]
    text = "".join(lines)
    with open(path, "a") as fh:
        fh.write(text if complete else text[:-1])
    return path


def configure(ws, sources: list[dict], **extra) -> None:
    ws.config_path.write_text(yaml.safe_dump({"sources": sources, **extra}))


def lake_request_ids(ws) -> list[str]:
    """Every stored access row's request_id (repeats included)."""
    import duckdb

    files = sorted(str(p) for p in ws.dataset_dir("access").rglob("part-*.parquet"))
    if not files:
        return []
    return [r[0] for r in duckdb.sql(f"SELECT request_id FROM read_parquet({files!r})").fetchall()]


def watch_cmd(ws, *args: str) -> list[str]:
    return [sys.executable, "-m", "custodes", "watch", "--workspace", str(ws.root), *args]


def run_watch(ws, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(watch_cmd(ws, *args), capture_output=True, text=True, timeout=timeout, env=dict(os.environ))


SMALL_WORLD = dict(customers=300, days=16, seed=5)


@pytest.fixture(scope="session")
def small_world(tmp_path_factory):
    """A small simulated platform with every scenario: read only."""
    from custodes.simulate import simulate

    out = tmp_path_factory.mktemp("watch-world") / "world"
    simulate(out, **SMALL_WORLD)
    return out
