"""Security headers on every kind of response: pages, redirects, errors, the stylesheet."""

from __future__ import annotations

import pytest

EXPECTED = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}


def _check_common(r):
    for name, value in EXPECTED.items():
        assert r.headers[name] == value, name
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src" not in csp and "unsafe-inline" not in csp  # no script may run at all
    assert "server" not in {k.lower() for k in r.headers if k.lower() == "server" and "uvicorn" in r.headers[k]}


@pytest.mark.parametrize("path", ["/login", "/incidents", "/nope", "/"])
def test_pages_and_errors_carry_headers_and_are_never_cached(client, path):
    r = client.get(path)
    _check_common(r)
    assert r.headers["cache-control"].startswith("no-store")


def test_pages_with_personal_data_are_not_cached(as_role):
    r = as_role("anna").get("/incidents/i-forgery")
    assert r.status_code == 200 and "c-1000" in r.text
    _check_common(r)
    assert r.headers["cache-control"] == "no-store, max-age=0" and r.headers["pragma"] == "no-cache"
    assert "strict-transport-security" not in r.headers  # plain http: HSTS would be ignored


def test_stylesheet_is_cacheable_and_pages_have_no_inline_script_or_style(client, as_role):
    css = client.get("/static/console.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "public" in css.headers["cache-control"]
    _check_common(css)
    html = as_role("anna").get("/incidents/i-forgery").text
    assert "<script" not in html and " style=" not in html and "<style" not in html
    assert "http://" not in html and "https://" not in html  # no CDN, works air-gapped


def test_login_page_reveals_nothing_about_the_installation(client, ws):
    html = client.get("/login").text
    assert str(ws.root) not in html and "0.1" not in html
