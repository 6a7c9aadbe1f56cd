"""Anchors: every new head of a hash chain (the lake's seals, the console's audit trail) is also
written somewhere outside the workspace, so that a workspace restored from an older copy, or
rewritten and re-chained, no longer matches what was recorded when it happened.

Configured in ``WORKSPACE/custodes.yaml``::

    seal:
      anchor: /var/log/custodes/anchor.jsonl        # an append-only file; or, with more sinks:
      anchor:
        file: /var/log/custodes/anchor.jsonl
        syslog: udp://192.0.2.10:514                # RFC 5424; or tcp://host:port (RFC 6587 octet counting)
        http: https://anchor.example/custodes       # POST, one JSON record a request; any 2xx

One record a head, as one JSON line (and as the MSG of a syslog message, and as the body of a
POST)::

    {"v": 1, "time": "2026-12-05T09:37:58.123456Z", "kind": "lake", "workspace": "/srv/custodes",
     "seq": 12, "head": "9f2c…", "key": "<SHA-256 of the verify key's DER, hex>" | null}

``workspace`` is the workspace's absolute path: it tells the heads of several workspaces (or
hosts' workspaces of one path, in a central collector) apart only together with the syslog
HOSTNAME. A write that fails never undoes what it anchors: the record is queued in
``WORKSPACE/seals/anchor-pending.jsonl`` and sent again by the next :func:`record` or
:func:`flush`, and the caller is told (it warns). Only the file sink can be read back, so only
it is checked (:func:`check`, :func:`last`).

API (both the lake and the console's audit trail use it)::

    record(ws, kind, seq, head_hex, key_fingerprint=None) -> list[str]   # warnings, [] when all sinks took it
    flush(ws) -> list[str]                                               # retry queued records
    check(path, kind, lookup, workspace=None) -> AnchorCheck             # every recorded head still held?
    last(path, kind, workspace) -> dict | None                           # the newest record of that chain
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from custodes.errors import CustodesError
from custodes.workspace import Workspace
from custodes.safefile import fsync_dir

VERSION = 1
KINDS = ("lake", "audit")
SINKS = ("file", "syslog", "http")
TIMEOUT = 5.0  # seconds, for syslog over TCP and HTTP: an ingest must not hang on a dead collector
#: RFC 5424: facility 13 (log audit), severity 5 (notice). The SD-ID's enterprise number is
#: 32473, the one RFC 5612 reserves for examples and documentation.
SYSLOG_PRI = 13 * 8 + 5
SD_ID = "custodes-anchor@32473"


def workspace_id(ws: Workspace) -> str:
    return str(ws.root.resolve())


def pending_path(ws: Workspace) -> Path:
    return ws.root / "seals" / "anchor-pending.jsonl"


# Configuration ------------------------------------------------------------------------------

def sinks(ws: Workspace) -> dict[str, str]:
    """``seal.anchor`` as {sink: target}, checked strictly: an unknown sink, a malformed URL, or
    an anchor file inside the workspace (which whoever rewrites the workspace rewrites too) is
    an error."""
    given = ws.setting("seal.anchor")
    if given is None:
        return {}
    if isinstance(given, str):
        given = {"file": given}
    if not isinstance(given, dict) or not given:
        raise CustodesError(f"{ws.config_path}: seal.anchor is a file path or a mapping of {', '.join(SINKS)}")
    unknown = sorted(set(given) - set(SINKS))
    if unknown:
        raise CustodesError(f"{ws.config_path}: seal.anchor: unknown sink {unknown[0]!r} (expected {', '.join(SINKS)})")
    out = {name: str(value) for name, value in given.items() if value}
    if "file" in out:
        out["file"] = str(anchor_file(ws, out["file"]))
    if "syslog" in out:
        _syslog_target(ws, out["syslog"])
    if "http" in out and urlsplit(out["http"]).scheme not in ("http", "https"):
        raise CustodesError(f"{ws.config_path}: seal.anchor.http: {out['http']!r} is not an http(s) URL")
    return out


def anchor_file(ws: Workspace, given: str) -> Path:
    path = Path(given).expanduser()
    if not path.is_absolute():
        raise CustodesError(f"{ws.config_path}: seal.anchor file {given!r} must be an absolute path")
    resolved = path.resolve()
    if resolved.is_relative_to(ws.root.resolve()):
        raise CustodesError(f"{ws.config_path}: seal.anchor file {given} is inside the workspace; an anchor "
                            f"must be out of reach of whoever can rewrite the workspace")
    return resolved


def _syslog_target(ws: Workspace, url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("udp", "tcp") or not parts.hostname or not port:
        raise CustodesError(f"{ws.config_path}: seal.anchor.syslog: {url!r} is not udp://HOST:PORT or tcp://HOST:PORT")
    return parts.scheme, parts.hostname, port


# Writing -----------------------------------------------------------------------------------

def record(ws: Workspace, kind: str, seq: int, head_hex: str, key_fingerprint: str | None = None) -> list[str]:
    """Send one new head to every configured sink; a sink that fails gets it queued for the
    next call. Returns warnings (one line each), [] when every sink took it (or none is set)."""
    if kind not in KINDS:
        raise ValueError(f"anchor kind {kind!r}")
    targets = sinks(ws)
    if not targets:
        return []
    rec = {"v": VERSION, "time": _now(), "kind": kind, "workspace": workspace_id(ws), "seq": int(seq),
           "head": str(head_hex), "key": key_fingerprint}
    warnings = flush(ws, targets)
    failed = []
    for sink, target in targets.items():
        problem = _send(ws, sink, target, rec)
        if problem:
            failed.append(sink)
            warnings.append(f"{kind} head {seq} not anchored to {sink} ({problem}); queued to retry")
    if failed:
        warnings += _queue(ws, [{"sink": s, "record": rec} for s in failed])
    return warnings


def flush(ws: Workspace, targets: dict[str, str] | None = None) -> list[str]:
    """Send queued records again; those that still fail stay queued. Returns warnings."""
    path = pending_path(ws)
    if not path.exists():
        return []
    targets = sinks(ws) if targets is None else targets
    with _locked(path) as fh:
        fh.seek(0)
        queued, warnings = _queued(fh.read(), path)
        still = []
        for item in queued:
            sink, rec = item["sink"], item["record"]
            problem = _send(ws, sink, targets[sink], rec) if sink in targets else "sink no longer configured"
            if problem:
                still.append(item)
                warnings.append(f"{rec.get('kind')} head {rec.get('seq')} still not anchored to {sink} ({problem})")
        fh.seek(0)
        fh.truncate()
        fh.write("".join(json.dumps(i, sort_keys=True) + "\n" for i in still).encode())
        fh.flush()
        os.fsync(fh.fileno())
    if not still:
        path.unlink(missing_ok=True)
    return warnings


def _queued(data: bytes, path: Path) -> tuple[list[dict], list[str]]:
    """The queued items, and a warning for each line that is not one (dropped: it cannot be sent)."""
    items, warnings = [], []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if isinstance(item, dict) and isinstance(item.get("sink"), str) and _parse(
                    json.dumps(item.get("record")).encode()) is not None:
                items.append(item)
                continue
        except ValueError:
            pass
        warnings.append(f"{path}:{number}: not a queued anchor record; dropped")
    return items, warnings


def pending(ws: Workspace) -> int:
    """How many records wait to be anchored."""
    try:
        return sum(1 for line in pending_path(ws).read_text().splitlines() if line.strip())
    except FileNotFoundError:
        return 0


def _queue(ws: Workspace, items: list[dict]) -> list[str]:
    path = pending_path(ws)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _locked(path) as fh:
            fh.seek(0, os.SEEK_END)
            fh.write("".join(json.dumps(i, sort_keys=True) + "\n" for i in items).encode())
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        return [f"could not queue the anchor record either ({exc.strerror}): anchor this head by hand"]
    return []


@contextlib.contextmanager
def _locked(path: Path):
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "r+b") as fh:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fh


def _send(ws: Workspace, sink: str, target: str, rec: dict) -> str | None:
    """None when the sink took the record, else why not (one line)."""
    try:
        if sink == "file":
            append(Path(target), rec)
        elif sink == "syslog":
            _syslog(ws, target, rec)
        elif sink == "http":
            _http(target, rec)
        else:
            return f"unknown sink {sink!r}"
    except OSError as exc:
        return exc.strerror or str(exc)
    except Exception as exc:  # noqa: BLE001 - any failure of a sink is queued and reported, never fatal
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return None


def append(path: Path, rec: dict) -> None:
    """One line, one write, to a file opened O_APPEND (created 0600), then fsync: the file only
    ever grows, and ``chattr +a`` on it makes the kernel hold it to that."""
    line = (json.dumps(rec, sort_keys=True, separators=(",", ":")) + "\n").encode()
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        fcntl.flock(fd, fcntl.LOCK_EX)  # the lake and the console may append at the same moment
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        fsync_dir(path.parent)


def syslog_message(rec: dict, hostname: str | None = None) -> bytes:
    """RFC 5424: header, one SD-ELEMENT with the record's fields, and the record as JSON."""
    params = " ".join(f'{k}="{_sd_escape(rec[k])}"' for k in ("kind", "workspace", "seq", "head", "key")
                      if rec.get(k) is not None)
    host = (hostname or socket.gethostname() or "-")[:255].replace(" ", "_")
    msg = json.dumps(rec, sort_keys=True, separators=(",", ":"))
    return (f"<{SYSLOG_PRI}>1 {rec['time']} {host} custodes {os.getpid()} anchor "
            f"[{SD_ID} {params}] {msg}").encode()


def _sd_escape(value) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _syslog(ws: Workspace, url: str, rec: dict) -> None:
    scheme, host, port = _syslog_target(ws, url)
    message = syslog_message(rec)
    if scheme == "udp":
        with socket.socket(_family(host, port, socket.SOCK_DGRAM), socket.SOCK_DGRAM) as s:
            s.sendto(message, (host, port))
        return
    with socket.create_connection((host, port), timeout=TIMEOUT) as s:
        s.sendall(f"{len(message)} ".encode() + message)  # RFC 6587 octet counting


def _family(host: str, port: int, kind) -> int:
    return socket.getaddrinfo(host, port, type=kind)[0][0]


def _http(url: str, rec: dict) -> None:
    import httpx

    body = json.dumps(rec, sort_keys=True, separators=(",", ":")).encode()
    response = httpx.post(url, content=body, headers={"Content-Type": "application/json"}, timeout=TIMEOUT)
    if not 200 <= response.status_code < 300:
        raise RuntimeError(f"HTTP {response.status_code}")


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# Reading back -------------------------------------------------------------------------------

@dataclass
class AnchorCheck:
    path: str
    records: int = 0  # records of this kind (and workspace) checked
    problems: list[str] = field(default_factory=list)
    key: str | None = None  # the key fingerprint of the newest record that names one
    last: dict | None = None  # the newest record

    @property
    def ok(self) -> bool:
        return not self.problems


def check(path, kind: str, lookup: Callable[[int], str | None], workspace: str | None = None,
          require: bool = True, restarts: bool = False) -> AnchorCheck:
    """Every head of ``kind`` (of ``workspace``, when given) recorded in the anchor file must
    still be in the chain: ``lookup(seq)`` gives the chain's seal at ``seq`` (None when it has no
    such entry). A line that is not a record is a problem too, and so, with ``require``, are a
    file that cannot be read and one that records no such head: an anchor checked is an anchor
    that holds something.

    With ``restarts`` (the console's audit trail, which an admin may restart after a break), a
    record of seq 1 that the chain holds starts the chain anew: only heads anchored from it on
    are checked. The restart itself stays visible: the anchor shows the seq falling back to 1,
    and the new chain's first entry says why."""
    from custodes.lake.seal import same_digest

    result = AnchorCheck(str(path))
    try:
        lines = _lines(Path(path))
    except OSError as exc:
        if require or not isinstance(exc, FileNotFoundError):
            result.problems.append(f"{path}: cannot read the anchor ({exc.strerror})")
        return result
    for number, rec in lines:
        if rec is None:
            result.problems.append(f"{path}:{number}: not an anchor record")
            continue
        if rec.get("kind") != kind or (workspace is not None and rec.get("workspace") != workspace):
            continue
        if restarts and int(rec["seq"]) == 1 and _held(lookup, rec):
            result.problems = [p for p in result.problems if f"{kind} head" not in p]
            result.records = 0
        result.records += 1
        result.last = rec
        if rec.get("key"):
            result.key = rec["key"]
        held = lookup(int(rec["seq"]))
        if held is None or not same_digest(held, str(rec["head"])):
            why = "is gone" if held is None else "holds another seal there"
            result.problems.append(f"{path}:{number}: {kind} head {rec['seq']} anchored at {rec.get('time')} "
                                   f"is not in the chain, which {why} (rolled back or rewritten)")
    if require and not result.records:
        result.problems.append(f"{path}: records no {kind} head" + (f" of workspace {workspace}" if workspace else ""))
    return result


def _held(lookup: Callable[[int], str | None], rec: dict) -> bool:
    from custodes.lake.seal import same_digest

    held = lookup(int(rec["seq"]))
    return held is not None and same_digest(held, str(rec["head"]))


def last(path, kind: str, workspace: str) -> dict | None:
    """The newest record of ``kind`` and ``workspace`` in an anchor file, read from its end (the
    file grows by one line an ingest; this stays cheap however long it gets). None when there is
    none (or no file yet); an anchor that exists but cannot be read is an error: what it holds
    cannot be checked."""
    try:
        for rec in _records_backwards(Path(path)):
            if rec.get("kind") == kind and rec.get("workspace") == workspace:
                return rec
    except OSError as exc:
        raise CustodesError(f"{path}: cannot read the anchor ({exc.strerror or exc})") from None
    return None


def _lines(path: Path) -> list[tuple[int, dict | None]]:
    out = []
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if raw.strip():
                out.append((number, _parse(raw)))
    return out


def _parse(raw: bytes) -> dict | None:
    try:
        rec = json.loads(raw)
        if isinstance(rec, dict) and isinstance(rec.get("seq"), int) and isinstance(rec.get("head"), str):
            return rec
    except ValueError:
        pass
    return None


def _records_backwards(path: Path, block: int = 1 << 16) -> Iterator[dict]:
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return
    with fh:
        end = fh.seek(0, os.SEEK_END)
        tail = b""
        while end > 0:
            start = max(0, end - block)
            fh.seek(start)
            chunk = fh.read(end - start) + tail
            lines = chunk.split(b"\n")
            tail = lines.pop(0) if start > 0 else b""  # maybe a partial line: joined with the next block
            for raw in reversed(lines):
                rec = _parse(raw) if raw.strip() else None
                if rec is not None:
                    yield rec
            end = start
