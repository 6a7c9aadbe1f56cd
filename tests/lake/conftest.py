"""Small input files for lake tests, written the way operators' exports look."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

ACCESS_HEADER = ["time", "request_id", "src_ip", "user_agent", "method", "route", "status", "actor_type",
                 "actor_id", "account_id", "credential_type", "credential_id", "asn"]


def access_row(i: int, **over) -> dict:
    row = {
        "time": f"2025-04-14T0{i % 3}:00:{i % 60:02d}Z", "request_id": f"r-{i}", "src_ip": f"203.0.113.{i % 250}",
        "user_agent": "app/1.0", "method": "GET", "route": "/api/v1/me/addresses", "status": "200",
        "actor_type": "customer", "actor_id": f"c-{i % 7}", "account_id": f"c-{i % 7}",
        "credential_type": "access_token", "credential_id": f"jti-{i}", "asn": "4766",
    }
    row.update(over)
    return row


def write_csv(path: Path, rows: list[dict], header: list[str] | None = None) -> Path:
    header = header or list(rows[0])
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header)
        w.writeheader()
        w.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


@pytest.fixture
def files(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    return d
