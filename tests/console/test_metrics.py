"""``custodes serve``'s /metrics: requests by method and status, for a client on the box only."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from custodes.console.app import create_app

from .conftest import HandMadeSources


def _client(ws, peer: str, **kw) -> TestClient:
    app = create_app(ws, sources=HandMadeSources(ws), allowed_hosts=["testserver"], **kw)
    return TestClient(app, base_url="http://testserver", follow_redirects=False, client=(peer, 40000))


def test_metrics_count_requests_by_method_and_status(ws):
    with _client(ws, "127.0.0.1") as local:
        local.get("/login")
        local.get("/incidents")  # not signed in: a redirect to the login
        local.get("/no-such-page")
        text = local.get("/metrics").text
    counts = {(m, s): float(n) for m, s, n in
              re.findall(r'custodes_console_requests_total\{method="(\w+)",status="(\d+)"\} (\S+)', text)}
    assert counts[("GET", "200")] >= 1 and counts[("GET", "303")] == 1 and counts[("GET", "404")] == 1


def test_metrics_are_not_served_beyond_the_box(ws):
    with _client(ws, "203.0.113.9") as remote:
        assert remote.get("/metrics").status_code == 404
    # through a trusted reverse proxy on loopback, the real client is what counts
    with _client(ws, "127.0.0.1", trusted_proxies=["127.0.0.1"]) as proxied:
        r = proxied.get("/metrics", headers={"X-Forwarded-For": "198.51.100.4"})
        assert r.status_code == 404
        assert proxied.get("/metrics").status_code == 200
