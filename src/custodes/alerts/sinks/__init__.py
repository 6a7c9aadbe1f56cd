"""Sinks: where alerts go. Each module's ``send(config, alert, body)`` delivers one alert or
raises :class:`DeliveryError`, whose message is safe to store and show: it names what went
wrong (refused, timed out, HTTP 503, SMTP 535) and never carries a URL, a secret or the
server's own text.
"""

from __future__ import annotations

import importlib

from custodes.errors import CustodesError


class DeliveryError(Exception):
    """The sink did not take the alert; retried later."""


def send(config, alert: dict, body: bytes) -> None:
    """Deliver one alert (``body`` is its canonical JSON) through the sink ``config`` describes."""
    module = importlib.import_module(f"custodes.alerts.sinks.{config.type}")
    try:
        module.send(config, alert, body)
    except CustodesError as exc:  # a secret file missing, a URL file empty: said as is
        raise DeliveryError(str(exc)) from None


def network_error(exc: BaseException, timeout: float) -> DeliveryError:
    """A connection failure in words that name no address or secret."""
    import socket
    import ssl

    import httpx

    if isinstance(exc, (httpx.TimeoutException, socket.timeout, TimeoutError)):
        return DeliveryError(f"no answer within {timeout:g} s")
    if isinstance(exc, ConnectionRefusedError) or (isinstance(exc, httpx.ConnectError) and "refused" in str(exc).lower()):
        return DeliveryError("connection refused")
    if isinstance(exc, (ssl.SSLError, ssl.CertificateError)):
        return DeliveryError(f"TLS failed ({type(exc).__name__})")
    if isinstance(exc, socket.gaierror):
        return DeliveryError("host name did not resolve")
    return DeliveryError(f"connection failed ({type(exc).__name__})")
