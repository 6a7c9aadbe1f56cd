"""OCSF 1.x events as contract rows: which OCSF attribute each contract column comes from.

A column OCSF has no attribute for is read from ``unmapped.<column>`` (OCSF's own place for
attributes outside its schema); a column with an attribute falls back to ``unmapped.<column>``
too, so a producer may put any value there. ``--map FILE`` overrides any line of this table.
Timestamps in OCSF are epoch milliseconds (``timestamp_t``); the epoch rule reads them.
"""

from __future__ import annotations

#: dataset -> the OCSF class_uid its events must carry.
CLASS_UID = {"access": 6003, "issuance": 3002}  # API Activity, Authentication

ATTRIBUTES: dict[str, dict[str, str]] = {
    "access": {
        "time": "time",
        "request_id": "api.request.uid",
        "src_ip": "src_endpoint.ip",
        "user_agent": "http_request.user_agent",
        "device_id": "src_endpoint.uid",
        "geo_country": "src_endpoint.location.country",
        "asn": "src_endpoint.autonomous_system.number",
        "method": "http_request.http_method",
        "route": "http_request.url.path",
        "status": "http_response.code",
        "bytes_out": "http_response.length",
        "actor_id": "actor.user.uid",
        "credential_id": "actor.session.credential_uid",
        "token_iat": "actor.session.created_time",
        "token_exp": "actor.session.expiration_time",
        "session_id": "actor.session.uid",
    },
    "issuance": {
        "time": "time",
        "token_id": "session.credential_uid",
        "subject": "user.uid",
        "session_id": "session.uid",
        "client_id": "service.uid",
        "iat": "session.created_time",
        "exp": "session.expiration_time",
        "src_ip": "src_endpoint.ip",
        "device_id": "src_endpoint.uid",
    },
}


def candidates(dataset: str, column: str) -> list[str]:
    """Dotted paths to try, in order, for a contract column of an OCSF event."""
    attr = ATTRIBUTES.get(dataset, {}).get(column)
    unmapped = f"unmapped.{column}"
    return [attr, unmapped] if attr else [unmapped]
