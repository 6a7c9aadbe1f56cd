"""Out of the box: `custodes guard serve` and `custodes watch` on one workspace, no sources
configured. Every decision the guard answered reaches the lake through watch, once; the guard's
/metrics counted them by reason."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

from custodes.guard import mint
from custodes.guard.ledger import open_ledger

from tests.guard.conftest import free_port

from .conftest import lake_request_ids, run_watch

pytestmark = pytest.mark.slow


def test_guard_events_reach_the_lake_through_watch_out_of_the_box(workspace, tmp_path):
    key = mint.generate("ES256", "k-watch")
    (tmp_path / "jwks.json").write_text(json.dumps(mint.jwks(key)))
    now = int(time.time())
    ledger = open_ledger(f"sqlite:///{tmp_path}/ledger.db")
    ledger.record_many([(f"t{i}", f"c{i}", "k-watch", now - 5, now + 3600) for i in range(20)])
    ledger.close()
    issued = [key.sign({"sub": f"c{i}", "jti": f"t{i}", "iat": now - 5, "exp": now + 3600}) for i in range(20)]
    forged = key.sign({"sub": "c999", "jti": "never-issued", "iat": now - 5, "exp": now + 3600})
    port = free_port()
    guard = subprocess.Popen([sys.executable, "-m", "custodes", "guard", "serve", "--keys", str(tmp_path / "jwks.json"),
                              "--ledger", f"sqlite:///{tmp_path}/ledger.db", "--port", str(port),
                              "--workspace", str(workspace.root)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 30
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=0.5)
                break
            except httpx.HTTPError:
                assert guard.poll() is None and time.time() < deadline, guard.stderr.read()
                time.sleep(0.1)
        for i, token in enumerate([*issued, forged, forged]):
            httpx.get(f"{base}/auth", headers={"Authorization": f"Bearer {token}", "X-Request-ID": f"r{i}",
                                               "X-Original-URI": "/api/v1/me", "X-Real-IP": "198.51.100.7"})
        metrics = httpx.get(f"{base}/metrics").text
        assert re.search(r'custodes_guard_decisions_total\{reason="ok"\} 20\.0', metrics)
        assert re.search(r'custodes_guard_decisions_total\{reason="not_issued"\} 2\.0', metrics)
        assert run_watch(workspace, "--once").returncode == 0  # the file in flight is not read
        assert lake_request_ids(workspace) == []
    finally:
        guard.send_signal(signal.SIGTERM)  # stopping publishes the guard's current file
        guard.wait(30)
    r = run_watch(workspace, "--once", "--format", "json")
    assert r.returncode == 0, r.stderr
    (source,) = json.loads(r.stdout)["sources"]
    assert (source["name"], source["rows"]) == ("guard", 22)
    assert sorted(lake_request_ids(workspace)) == sorted(f"r{i}" for i in range(22))
    again = json.loads(run_watch(workspace, "--once", "--format", "json").stdout)
    assert again["sources"][0]["rows"] == 0  # nothing twice
