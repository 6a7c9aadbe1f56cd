"""``webhook``: one alert per POST (CONTRACT.md §7).

``Content-Type: application/json``, ``Idempotency-Key: <alert_id>``, and with a secret file
``X-Custodes-Signature: sha256=<hex HMAC-SHA256 of the body>`` keyed by the file's bytes
(trailing newline stripped). Any 2xx is delivered; redirects are not followed (a 3xx is a
failure: the signed body is never sent on to an address custodes was not given).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ssl

import httpx

from custodes import __version__
from custodes.alerts.sinks import DeliveryError, network_error


def signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


@functools.cache
def _tls() -> ssl.SSLContext:
    """The system's trust store, loaded once per process (loading it costs more than a POST)."""
    return ssl.create_default_context()


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> None:
    """POST ``body``; raise DeliveryError unless the answer is 2xx."""
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False, verify=_tls()) as client:
            response = client.post(url, content=body, headers={
                "Content-Type": "application/json", "User-Agent": f"custodes/{__version__}", **headers})
    except httpx.HTTPError as exc:
        raise network_error(exc, timeout) from None
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"HTTP {response.status_code}")


def send(config, alert: dict, body: bytes) -> None:
    headers = {"Idempotency-Key": alert["alert_id"]}
    secret = config.secret()
    if secret is not None:
        headers["X-Custodes-Signature"] = signature(secret, body)
    post(config.url, body, headers, config.timeout)
