"""Every decision of the guard as an ``access`` event (CONTRACT.md §1), in rolling JSON Lines files
that ``custodes ingest access`` reads.

Files are written as ``.access-<UTC time>-<pid>-<n>.jsonl.part`` (hidden, and with an extension
no reader takes) and renamed to ``access-<UTC time>-<pid>-<n>.jsonl`` when they roll (by size or
age) or when the guard stops, so an ingest never sees half a file. Files are 0600 in a 0700
directory: they hold customer ids and addresses. Lines are buffered and flushed at least once a
second; a crash loses at most that second (and never leaves a torn line in a finished file).

Columns: the contract's, plus ``guard_reason`` (a code of ``reasons.REASONS``), which ingestion
keeps as an extra column. When a token's signature verified but the token was still refused
(say ``not_issued``), its claims are authentic to whoever holds the key, so ``actor_id``,
``credential_id``, ``token_kid``, ``token_iat``, ``token_exp`` and ``session_id`` are filled in:
that is exactly the evidence a forged-token detection needs. When the signature did not verify,
nothing from the token is logged as fact.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import threading
import time
from pathlib import Path

from custodes.workspace import private_dir, private_open

ACTOR_TYPES = frozenset({"customer", "employee", "service", "anonymous"})
_SIGNATURE_CHECKED = frozenset({  # refusals that come after the signature verified
    "ok", "ok_unchecked", "bad_payload", "missing_exp", "expired", "not_yet_valid", "iat_in_future",
    "lifetime_exceeded", "bad_issuer", "bad_audience", "missing_jti", "missing_sub", "not_issued",
    "sub_mismatch", "kid_mismatch", "revoked_jti", "revoked_sub", "revoked_kid",
    "ledger_unavailable"})


def rfc3339(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    try:
        return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    except (OverflowError, OSError, ValueError):
        return None


def access_event(verdict, *, method: str, route: str, src_ip: str, status: int,
                 user_agent: str | None = None, request_id: str | None = None,
                 bytes_out: int | None = None, actor_type: str = "customer",
                 presented: bool = True, now: float | None = None) -> dict:
    """The access row for one decision (see the module's docstring for what is filled when)."""
    event = {  # every contract column, in contract order, then the guard's own
        "time": rfc3339(time.time() if now is None else now),
        "request_id": request_id, "src_ip": src_ip, "user_agent": user_agent, "device_id": None,
        "geo_country": None, "asn": None, "method": method, "route": route, "status": status,
        "bytes_out": bytes_out, "actor_type": "anonymous", "actor_id": None, "account_id": None,
        "record_count": None, "credential_type": "access_token" if presented else "none",
        "credential_id": None, "token_kid": None, "token_iat": None, "token_exp": None,
        "session_id": None, "guard_reason": verdict.reason,
    }
    if verdict.reason in _SIGNATURE_CHECKED:
        claimed = verdict.claims.get("actor_type")
        event.update(
            actor_type=claimed if claimed in ACTOR_TYPES else actor_type,
            actor_id=verdict.sub, credential_id=verdict.jti, token_kid=verdict.kid,
            token_iat=rfc3339(verdict.iat), token_exp=rfc3339(verdict.exp), session_id=verdict.sid)
    return event


def _private_tree(path: Path) -> Path:
    """Create ``path`` and every missing parent 0700 (mkdir(parents=True) gives parents 0755)."""
    for parent in reversed(path.parents):
        if not parent.exists():
            private_dir(parent)
    return private_dir(path)


class AccessLog:
    """Append access events to rolling JSONL files in ``directory``. Thread-safe."""

    def __init__(self, directory: str | Path, max_bytes: int = 64 << 20, max_age: float = 300.0,
                 flush_interval: float = 1.0):
        self.directory = _private_tree(Path(directory))
        self.max_bytes, self.max_age, self.flush_interval = max_bytes, max_age, flush_interval
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self._file = None
        self._path: Path | None = None
        self._opened = self._flushed = 0.0
        self._size = 0

    def _open(self, now: float) -> None:
        stamp = dt.datetime.fromtimestamp(now, dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
        name = f"access-{stamp}-{os.getpid()}-{next(self._counter)}.jsonl"
        self._path = self.directory / name
        self._file = private_open(self.directory / f".{name}.part", "w", encoding="utf-8",
                                  buffering=1 << 16)
        self._opened = self._flushed = now
        self._size = 0

    def _finish(self) -> Path | None:
        if self._file is None:
            return None
        self._file.close()
        part = self.directory / f".{self._path.name}.part"
        done, self._file = self._path, None
        if self._size:
            os.replace(part, done)
            return done
        part.unlink(missing_ok=True)  # nothing was written: leave no empty file behind
        return None

    def write(self, event: dict) -> None:
        line = json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n"
        now = time.time()
        with self._lock:
            if self._file is not None and (self._size >= self.max_bytes
                                           or now - self._opened >= self.max_age):
                self._finish()
            if self._file is None:
                self._open(now)
            self._file.write(line)
            self._size += len(line)
            if now - self._flushed >= self.flush_interval:
                self._file.flush()
                self._flushed = now

    def tick(self) -> None:
        """Flush, and roll a file past its age even when no request comes (call it every second
        or so from the server's loop)."""
        now = time.time()
        with self._lock:
            if self._file is None:
                return
            if now - self._opened >= self.max_age:
                self._finish()
            else:
                self._file.flush()
                self._flushed = now

    def roll(self) -> Path | None:
        """Finish the current file now (it becomes visible to ingest); returns its path."""
        with self._lock:
            return self._finish()

    def close(self) -> Path | None:
        return self.roll()

    def finished_files(self) -> list[Path]:
        return sorted(self.directory.glob("access-*.jsonl"))
