"""Delivering what the outbox holds: every due delivery, oldest alert first, one sink at a time.

A sink that fails is left alone for the rest of the cycle (a dead receiver costs one timeout per
cycle, not one per alert), and the failed delivery waits an exponential back-off with jitter,
capped: ``min(max_seconds, base_seconds * 2**(attempts-1))``, drawn between half and all of
it. The schedule is in the outbox, so it holds across cycles and restarts. Only one process
delivers at a time (a lock beside the outbox, released by the kernel if the process dies).
"""

from __future__ import annotations

import fcntl
import json
import random
from contextlib import contextmanager
from dataclasses import dataclass, field

from custodes.alerts import sinks as sink_modules
from custodes.alerts.outbox import Outbox
from custodes.workspace import Workspace, private_open


@dataclass
class Outcome:
    delivered: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    busy: bool = False


def backoff(attempts: int, base: float, cap: float, rng: random.Random) -> float:
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    return delay * (0.5 + rng.random() / 2)


@contextmanager
def exclusive(workspace: Workspace):
    """Yield True while this process holds the delivery lock, False when another does."""
    with private_open(workspace.root / "alerts" / "deliver.lock", "ab") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def deliver(workspace: Workspace, box: Outbox, config, now: float, rng: random.Random | None = None) -> Outcome:
    rng = rng or random.Random()
    out = Outcome()
    with exclusive(workspace) as mine:
        if not mine:
            out.busy = True
            out.notes.append("another custodes process is delivering alerts; left to it")
            return out
        sinks = config.named_sinks()
        down: set[str] = set()
        for due in box.due(now):
            if due.sink not in sinks:
                note = f"deliveries to {due.sink!r} wait: no sink of that name is configured"
                if note not in out.notes:
                    out.notes.append(note)
                continue
            if due.sink in down:
                continue
            error = attempt(sinks[due.sink], due.body)
            if error is None:
                box.delivered(due.alert_id, due.sink, now)
                out.delivered.append({"alert_id": due.alert_id, "sink": due.sink})
                continue
            down.add(due.sink)
            retry_at = now + backoff(due.attempts + 1, config.retry.base_seconds, config.retry.max_seconds, rng)
            box.failed(due.alert_id, due.sink, now, error, retry_at)
            out.failed.append({"alert_id": due.alert_id, "sink": due.sink, "error": error,
                               "attempts": due.attempts + 1, "retry_in_s": round(retry_at - now, 1)})
    return out


def attempt(sink, body: bytes) -> str | None:
    """None when the sink took the alert; else why not, in words safe to store."""
    try:
        sink_modules.send(sink, json.loads(body), body)
    except sink_modules.DeliveryError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - one broken sink must not stop the others
        return f"unexpected error in the {sink.type} sink ({type(exc).__name__})"
    return None
