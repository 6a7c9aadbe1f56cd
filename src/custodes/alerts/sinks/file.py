"""``file``: the alert object appended as one JSON line (0600, fsynced)."""

from __future__ import annotations

import os

from custodes.alerts.sinks import DeliveryError
from custodes.workspace import private_open


def send(config, alert: dict, body: bytes) -> None:
    try:
        with private_open(config.path, "ab") as out:
            out.write(body + b"\n")
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        raise DeliveryError(f"cannot append to the alerts file: {exc.strerror}") from None
