"""``custodes guard serve``'s /metrics: decisions by reason, and the ledger's latency."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from custodes.guard.server import AuthServer

from .test_edge import ledger, now_claims  # noqa: F401 - the ledger fixture


def test_metrics_count_decisions_by_reason_and_time_the_ledger(verifier, signing_keys, ledger):  # noqa: F811
    client = TestClient(AuthServer(verifier(ledger=ledger)))
    issued = signing_keys["ES256"].sign(now_claims())
    forged = signing_keys["ES256"].sign(now_claims(jti="tok-x"))
    for token in (issued, issued, forged, "junk"):
        client.get("/auth", headers={"Authorization": f"Bearer {token}"})
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    counts = dict(re.findall(r'custodes_guard_decisions_total\{reason="(\w+)"\} (\d+)', r.text))
    assert counts["ok"] == "2" and counts["not_issued"] == "1" and sum(map(int, counts.values())) == 4
    asked = int(float(re.search(r"custodes_guard_ledger_seconds_count (\S+)", r.text).group(1)))
    assert asked == 3  # the junk token never reached the ledger
    assert client.get("/healthz").status_code == 200  # the timed ledger still answers ping
