"""Every decision of the guard as an ``access`` event (CONTRACT.md §1), in rolling JSON Lines files
that ``custodes ingest access`` reads.

Files: see :mod:`custodes.guard.eventfiles` (written as hidden ``.part`` files, renamed when they
roll, by size or age, or when the guard stops; recovered at the next start after a crash). They
are 0600 in a 0700 directory: they hold customer ids and addresses. A flusher thread hands the
lines to the OS at least once a second, with or without further requests, so ``kill -9`` loses
at most the last second.

Columns: the contract's, plus ``guard_reason`` (a code of ``reasons.REASONS``), which ingestion
keeps as an extra column. When a token's signature verified but the token was still refused
(say ``not_issued``), its claims are authentic to whoever holds the key, so ``actor_id``,
``credential_id``, ``token_kid``, ``token_iat``, ``token_exp`` and ``session_id`` are filled in:
that is exactly the evidence a forged-token detection needs. When the signature did not verify,
nothing from the token is logged as fact.

Nothing a token holds can cost the log its event: building one never trusts a claim's type, and
if it fails all the same a fallback event (the request's own fields, ``guard_event_error``)
is written instead. Decisions on tokens whose signature did not verify (none at all, junk, a
wrong key) are bounded: at most ``anonymous_per_second`` such rows a second; beyond that they are
counted, and each such second gets, per reason, one row (its first request left out) whose
``guard_dropped`` says how many more were left out, so a flood cannot fill the disk unseen.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import math
import os
import secrets
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from custodes.guard.eventfiles import PartFile, recover_parts
from custodes.guard.private import private_directory

if TYPE_CHECKING:
    from custodes.guard.policy import Verdict

log = logging.getLogger("custodes.guard")

ACTOR_TYPES = frozenset({"customer", "employee", "service", "anonymous"})
_SIGNATURE_CHECKED = frozenset({  # refusals that come after the signature verified
    "ok", "ok_unchecked", "bad_payload", "missing_exp", "expired", "not_yet_valid", "iat_in_future",
    "lifetime_exceeded", "bad_issuer", "bad_audience", "missing_jti", "missing_sub", "missing_iat",
    "not_issued", "sub_mismatch", "kid_mismatch", "iat_mismatch", "exp_mismatch", "revoked_jti",
    "revoked_sub", "revoked_kid", "ledger_unavailable"})
# Longest text kept from a request header: the proxy's headers are trusted, not their size, and
# a bounded row keeps the per-second bound on anonymous rows a bound on bytes.
_MAX = {"method": 16, "route": 2048, "src_ip": 64, "user_agent": 512, "request_id": 128}
_MAX_SOURCES = 10_000  # distinct addresses counted per second and reason in a flood


@functools.lru_cache(maxsize=4096)
def _whole_second(second: int) -> str:
    return dt.datetime.fromtimestamp(second, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def rfc3339(epoch: float | None) -> str | None:
    """``2025-04-14T03:12:09.000000Z``, or None for a time no calendar holds. Three per event
    (time, iat, exp): strftime was the costliest step of writing one, so each second's text
    is made once."""
    if epoch is None:
        return None
    try:
        second = math.floor(epoch)
        micro = round((epoch - second) * 1e6)
        if micro == 1_000_000:
            second, micro = second + 1, 0
        return f"{_whole_second(second)}.{micro:06d}Z"
    except (OverflowError, OSError, ValueError, TypeError):
        return None


def signature_verified(verdict: Verdict) -> bool:
    """Whether the token's signature verified, so that its claims are logged as the evidence."""
    return verdict.reason in _SIGNATURE_CHECKED


def access_event(verdict: Verdict, *, method: str, route: str, src_ip: str, status: int,
                 user_agent: str | None = None, request_id: str | None = None,
                 bytes_out: int | None = None, actor_type: str = "customer",
                 presented: bool = True, now: float | None = None) -> dict[str, Any]:
    """The access row for one decision (see the module's docstring for what is filled when)."""
    event = {  # every contract column, in contract order, then the guard's own
        "time": rfc3339(time.time() if now is None else now),
        "request_id": request_id and request_id[:_MAX["request_id"]],
        "src_ip": src_ip and src_ip[:_MAX["src_ip"]],
        "user_agent": user_agent and user_agent[:_MAX["user_agent"]], "device_id": None,
        "geo_country": None, "asn": None, "method": method and method[:_MAX["method"]],
        "route": route and route[:_MAX["route"]],
        "status": status, "bytes_out": bytes_out, "actor_type": "anonymous", "actor_id": None,
        "account_id": None, "record_count": None,
        "credential_type": "access_token" if presented else "none",
        "credential_id": None, "token_kid": None, "token_iat": None, "token_exp": None,
        "session_id": None, "guard_reason": verdict.reason,
    }
    if signature_verified(verdict):
        claimed = verdict.claims.get("actor_type")  # any JSON value: a list, an object, ...
        event.update(
            actor_type=claimed if isinstance(claimed, str) and claimed in ACTOR_TYPES else actor_type,
            actor_id=verdict.sub, credential_id=verdict.jti, token_kid=verdict.kid,
            token_iat=rfc3339(verdict.iat), token_exp=rfc3339(verdict.exp),
            session_id=verdict.sid)  # the policy let only printable strings through for these
    return event


def fallback_event(reason: object, error: BaseException, request: dict[str, Any]) -> dict[str, Any]:
    """What is logged when building the real event failed: the request's own fields only,
    each kept only if it is what it should be, so this cannot fail in turn."""
    def text(name: str) -> str | None:
        value = request.get(name)
        return value[:_MAX[name]] if isinstance(value, str) else None

    status, now = request.get("status"), request.get("now")
    return {"time": rfc3339(now if isinstance(now, (int, float)) else time.time()),
            "request_id": text("request_id"), "src_ip": text("src_ip") or "0.0.0.0",
            "user_agent": text("user_agent"), "method": text("method") or "GET",
            "route": text("route") or "/", "status": status if isinstance(status, int) else 0,
            "actor_type": "anonymous",
            "credential_type": "access_token" if request.get("presented", True) else "none",
            "guard_reason": reason if isinstance(reason, str) else "unknown",
            "guard_event_error": type(error).__name__}


def _line(event: dict[str, Any]) -> bytes:
    return (json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def event_line(verdict: Verdict, request: dict[str, Any]) -> bytes:
    """One JSON line for one decision, whatever the verdict's claims hold: the access event, or
    the fallback event when building that one fails."""
    try:
        return _line(access_event(verdict, **request))
    except Exception as exc:  # noqa: BLE001 - a token must never cost the log its event
        return _line(fallback_event(getattr(verdict, "reason", None), exc, request))


class _Dropped:
    """The anonymous requests of one reason left out in one second."""

    def __init__(self, first: bytes):
        self.first, self.count = first, 0
        self.sources: dict[str | None, int] = {}

    def add(self, src_ip: str | None) -> None:
        self.count += 1
        if src_ip in self.sources or len(self.sources) < _MAX_SOURCES:
            self.sources[src_ip] = self.sources.get(src_ip, 0) + 1

    def summary(self) -> bytes:
        event = json.loads(self.first)
        event.update(guard_dropped=self.count - 1, guard_dropped_sources=len(self.sources),
                     guard_dropped_top_src_ip=max(self.sources, key=lambda ip: self.sources[ip]))
        return _line(event)


class AnonymousBudget:
    """At most ``per_second`` rows a second for decisions without a verified signature; the
    requests beyond it are counted per reason and summarised once their second is over."""

    def __init__(self, per_second: int):
        if per_second < 0:
            raise ValueError("per_second must be 0 or more")
        self.per_second = per_second
        self._second: int | None = None
        self._used = 0
        self._dropped: dict[str, _Dropped] = {}

    def admit(self, line: bytes, reason: str, src_ip: str | None, now: float) -> tuple[bool, list[bytes]]:
        """Whether to write ``line``, and the summaries of a second that just ended."""
        summaries = self.due(now)
        if self._used < self.per_second:
            self._used += 1
            return True, summaries
        dropped = self._dropped.get(reason)
        if dropped is None:
            dropped = self._dropped[reason] = _Dropped(line)
        dropped.add(src_ip)
        return False, summaries

    def due(self, now: float) -> list[bytes]:
        """The summaries of the seconds before ``now`` (and forget them)."""
        second = int(now)
        if self._second is not None and second <= self._second:
            return []  # (a request's clock read just before the flusher moved on counts here)
        return self.drain(second)

    def drain(self, second: int | None = None) -> list[bytes]:
        """Every pending summary, the current second's included (when stopping)."""
        summaries = [d.summary() for d in self._dropped.values()]
        self._second, self._used, self._dropped = second, 0, {}
        return summaries


class AccessLog:
    """Writes access events to rolling JSON Lines files in ``directory``. Thread-safe; never
    raises into a request: a write that fails is counted (``errors``), logged, and makes
    :attr:`healthy` false until a flush succeeds again."""

    def __init__(self, directory: str | Path, max_bytes: int = 64 << 20, max_age: float = 300.0,
                 flush_interval: float = 1.0, anonymous_per_second: int = 100):
        self.directory = private_directory(directory, "access-event directory")
        self.recovered = recover_parts(self.directory)  # what a crashed writer left unfinished
        self.max_bytes, self.max_age, self.flush_interval = max_bytes, max_age, flush_interval
        self.budget = AnonymousBudget(anonymous_per_second)
        self.errors = 0
        self.healthy = True
        self._lock = threading.Lock()
        self._count = 0
        # Names must never repeat, even for a restarted process that got the same pid within
        # the same second, or two logs in one process: os.replace would overwrite a finished file.
        self._instance = secrets.token_hex(4)
        self._file: PartFile | None = None
        self._opened = 0.0
        self._logged_error = 0.0
        self._closed = threading.Event()
        self._flusher = threading.Thread(target=self._flush_every_interval, daemon=True,
                                         name="custodes-guard-events")
        self._flusher.start()

    # Writing ------------------------------------------------------------------------------
    def decision(self, verdict: Verdict, **request: Any) -> None:
        """Log one decision (the keyword arguments of :func:`access_event`): its own row, or,
        for an anonymous decision past the per-second budget, a count in that second's summary."""
        request.setdefault("now", time.time())
        try:
            line = event_line(verdict, request)
            with self._lock:
                if signature_verified(verdict):
                    self._append([line], request["now"])
                else:
                    admitted, summaries = self.budget.admit(
                        line, verdict.reason, request.get("src_ip"), request["now"])
                    self._append(summaries + [line] if admitted else summaries, request["now"])
        except Exception as exc:  # noqa: BLE001 - logging must never break a request
            self._failed(exc)

    def write(self, event: dict[str, Any]) -> None:
        """Append one event as it is (no budget)."""
        try:
            line = _line(event)
            with self._lock:
                self._append([line], time.time())
        except Exception as exc:  # noqa: BLE001
            self._failed(exc)

    def _append(self, lines: list[bytes], now: float) -> None:
        for line in lines:
            if self._file is not None and (self._file.size >= self.max_bytes
                                           or now - self._opened >= self.max_age):
                self._finish()
            file = self._file if self._file is not None else self._open(now)
            file.write(line)

    def _open(self, now: float) -> PartFile:
        stamp = dt.datetime.fromtimestamp(now, dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
        self._count += 1
        self._file = PartFile(self.directory,
                              f"access-{stamp}-{os.getpid()}-{self._instance}-{self._count}.jsonl")
        self._opened = now
        return self._file

    def _finish(self) -> Path | None:
        part, self._file = self._file, None
        return None if part is None else part.finish()

    # Keeping it on disk ---------------------------------------------------------------------
    def tick(self) -> None:
        """Write the summaries of a second that ended, roll a file past its age, and hand what
        is buffered to the OS; the flusher thread calls it every ``flush_interval``."""
        now = time.time()
        try:
            with self._lock:
                self._append(self.budget.due(now), now)
                if self._file is not None:
                    if now - self._opened >= self.max_age:
                        self._finish()
                    else:
                        self._file.flush()
            self.healthy = True
        except Exception as exc:  # noqa: BLE001
            self._failed(exc)

    def _flush_every_interval(self) -> None:
        while not self._closed.wait(self.flush_interval):
            self.tick()

    def _failed(self, exc: BaseException) -> None:
        self.errors += 1
        self.healthy = False
        now = time.time()
        if now - self._logged_error >= 60:  # one line a minute, not one per request
            self._logged_error = now
            log.error("custodes guard: cannot write access events to %s: %s", self.directory, exc)

    def roll(self) -> Path | None:
        """Finish the current file now (it becomes visible to ingest); returns its path."""
        with self._lock:
            now = time.time()
            self._append(self.budget.due(now), now)
            return self._finish()

    def close(self) -> Path | None:
        """Stop the flusher and finish the file, with every pending summary in it."""
        self._closed.set()
        if self._flusher is not threading.current_thread():
            self._flusher.join(timeout=5)
        with self._lock:
            self._append(self.budget.drain(), time.time())
            return self._finish()

    def finished_files(self) -> list[Path]:
        return sorted(self.directory.glob("access-*.jsonl"))
