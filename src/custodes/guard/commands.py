"""``custodes guard``: verify, ledger load, revoke, serve (CONTRACT.md §5).

Kept light: ``verify`` imports the guard and ``cryptography`` only; pyarrow is imported by
``ledger load`` alone, and uvicorn by ``serve`` alone.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import click

from custodes.clikit import echo, format_option, note, parse_time_option, safe_dumps, workspace_option
from custodes.errors import CustodesError, UsageError
from custodes.guard.routeheaders import ROUTE_HEADERS
from custodes.text import plural
from custodes.workspace import Workspace

if TYPE_CHECKING:
    from custodes.guard.cache import VerdictCache
    from custodes.guard.ledger.base import Ledger
    from custodes.guard.policy import Verifier

F = TypeVar("F", bound=Callable[..., Any])

MAX_CACHE_TTL = 60.0
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str | int) -> int:
    """``86400``, ``90m``, ``24h``, ``1d`` -> seconds."""
    m = _DURATION.match(str(value))
    if not m or int(m.group(1)) <= 0:
        raise click.BadParameter(f"{value!r} is not a positive duration (e.g. 3600, 90m, 24h, 1d)",
                                 param_hint="--max-lifetime")
    return int(m.group(1)) * _UNIT[m.group(2)]


def _policy_options(fn: F) -> F:
    for decorator in reversed([
        click.option("--keys", "keys_path", required=True, type=click.Path(dir_okay=False),
                     help="JWKS file of the verification keys (public keys, or oct secrets)"),
        click.option("--issuer", default=None, help="required iss"),
        click.option("--audience", default=None, help="required member of aud"),
        click.option("--ledger", "ledger_url", default=None, metavar="URL",
                     help="issuance ledger: memory:, sqlite:///PATH, redis://HOST:PORT/DB"),
        click.option("--max-lifetime", default="24h", show_default=True,
                     help="longest exp - iat accepted (seconds, or 90m, 24h, 1d)"),
        click.option("--ledger-failure", type=click.Choice(["closed", "open"]), default="closed",
                     show_default=True,
                     help="when the ledger is unreachable: refuse (closed) or accept unchecked (open)"),
    ]):
        fn = decorator(fn)
    return fn


def _verifier(keys_path: str, issuer: str | None, audience: str | None, ledger_url: str | None,
              max_lifetime: str, ledger_failure: str, cache: VerdictCache | None = None) -> Verifier:
    from custodes.guard.keys import load_jwks_file
    from custodes.guard.policy import Verifier

    keys = load_jwks_file(keys_path)
    ledger = _open(ledger_url, create=False) if ledger_url else None
    return Verifier(keys, issuer=issuer, audience=audience, ledger=ledger,
                    max_lifetime=parse_duration(max_lifetime), cache=cache,
                    ledger_failure=ledger_failure)


def _open(url: str, persistent: bool = False, create: bool = False) -> Ledger:
    """The ledger at ``url``; a SQLite file is created only with ``create`` (``ledger load``,
    ``revoke --create``): a mistyped path is an error, never a new, empty ledger."""
    from custodes.guard.ledger import open_ledger

    if persistent and url.startswith("memory:"):
        raise UsageError("a memory: ledger lives and dies with one process; "
                         "give sqlite:///PATH or redis://HOST:PORT/DB")
    return open_ledger(url, create=create)


def _cache_ttl(_ctx: click.Context, _param: click.Parameter, value: float) -> float:
    """A finite number of seconds, 0 to MAX_CACHE_TTL: the ttl bounds how late a revocation
    made elsewhere takes effect here, so ``inf`` or ``nan`` would mean never."""
    if not (math.isfinite(value) and 0 <= value <= MAX_CACHE_TTL):
        raise click.BadParameter(f"{value!r} is not a number of seconds from 0 to {MAX_CACHE_TTL:g}")
    return value


@click.group()
def guard() -> None:
    """Verify tokens at the edge: keys, policy, issuance ledger, revocation."""


@guard.command()
@_policy_options
@click.option("--tokens", "tokens_file", type=click.File("r", encoding="utf-8", errors="replace"),
              default=None, help="file of tokens, one a line ('-' for stdin)")
@click.argument("token", required=False)
def verify(keys_path: str, issuer: str | None, audience: str | None, ledger_url: str | None, max_lifetime: str,
           ledger_failure: str, tokens_file: TextIO | None, token: str | None) -> None:
    """Verify TOKEN (or every line of --tokens FILE): one JSON verdict line each, in order.
    Exit 0 when every token is accepted, 1 otherwise."""
    if (token is None) == (tokens_file is None):
        raise UsageError("give exactly one of TOKEN or --tokens FILE")
    verifier = _verifier(keys_path, issuer, audience, ledger_url, max_lifetime, ledger_failure)
    all_ok, refused, total = True, 0, 0
    out = sys.stdout
    lines = [token] if token is not None else (line.rstrip("\r\n").strip() for line in tokens_file or ())
    batch: list[str] = []

    def flush() -> None:
        nonlocal all_ok, refused, total
        for verdict in verifier.verify_many(batch):
            all_ok &= verdict.ok
            refused += not verdict.ok
            total += 1
            out.write(safe_dumps(verdict.as_json(), indent=None) + "\n")
        batch.clear()

    for line in lines:
        batch.append(line)
        if len(batch) >= 1000:
            flush()
    flush()
    out.flush()
    if not all_ok:
        raise CustodesError(f"{refused} of {plural(total, 'token')} refused")


@guard.group()
def ledger() -> None:
    """The issuance ledger: what the authorization server minted."""


@ledger.command("load")
@click.argument("issuance_file", type=click.Path(dir_okay=False))
@click.option("--ledger", "ledger_url", required=True, metavar="URL",
              help="sqlite:///PATH or redis://HOST:PORT/DB")
@click.option("--input-format", type=click.Choice(["parquet", "csv", "jsonl"]), default=None,
              help="format of ISSUANCE_FILE (default: from its extension)")
@format_option()
def ledger_load(issuance_file: str, ledger_url: str, input_format: str | None, fmt: str) -> None:
    """Load the issued tokens of an issuance file (Parquet, CSV or JSONL) into a ledger.
    Bad rows are reported on stderr (file, row, column) and skipped; exit 1 if there were any."""
    from custodes.guard.issuance import read_issuance
    from custodes.guard.ledger.base import LedgerUnavailable

    tokens, bad = read_issuance(issuance_file, input_format)
    with _open(ledger_url, persistent=True, create=True) as led:
        try:
            recorded = led.record_many(tokens)
        except LedgerUnavailable as exc:
            raise CustodesError(f"the ledger is unavailable: {exc}") from None
    for b in bad[:20]:
        note(f"{issuance_file}: row {b.row}, column {b.column}: {b.reason}")
    if len(bad) > 20:
        note(f"{issuance_file}: ... and {len(bad) - 20} more bad rows")
    bad_rows = len({b.row for b in bad})
    summary = {"file": str(issuance_file), "rows": len(tokens) + bad_rows,
               "recorded": recorded, "skipped_expired": len(tokens) - recorded, "bad_rows": bad_rows}
    if fmt == "json":
        click.echo(safe_dumps(summary))
    else:
        echo(f"recorded {recorded} issued tokens from {issuance_file}"
                   + (f" ({summary['skipped_expired']} long expired, skipped)"
                      if summary["skipped_expired"] else "")
                   + (f"; {plural(bad_rows, 'bad row')} skipped" if bad else ""))
    if bad:
        raise CustodesError(f"{issuance_file}: {plural(bad_rows, 'bad row')} skipped")


@guard.command()
@click.option("--jti", default=None, help="revoke this token")
@click.option("--sub", default=None, help="revoke every token of this subject issued until now")
@click.option("--kid", default=None, help="revoke every token signed by this key")
@click.option("--ledger", "ledger_url", required=True, metavar="URL",
              help="sqlite:///PATH or redis://HOST:PORT/DB")
@click.option("--at", default=None, help="revocation time (RFC 3339 or epoch seconds; default now)")
@click.option("--create", is_flag=True, default=False,
              help="create the SQLite ledger if it does not exist (otherwise that is an error)")
@format_option()
def revoke(jti: str | None, sub: str | None, kid: str | None, ledger_url: str, at: str | None, create: bool,
           fmt: str) -> None:
    """Revoke a token (--jti), a subject's tokens (--sub) or a key's tokens (--kid)."""
    from custodes.guard.ledger.base import LedgerUnavailable

    if jti is None and sub is None and kid is None:
        raise UsageError("give at least one of --jti, --sub, --kid")
    import datetime as dt

    when = parse_time_option(at, "--at") or dt.datetime.now(dt.timezone.utc)
    with _open(ledger_url, persistent=True, create=create) as led:
        try:
            led.revoke(jti=jti, sub=sub, kid=kid, at=when)
        except LedgerUnavailable as exc:
            raise CustodesError(f"the ledger is unavailable: {exc}") from None
    revoked = {k: v for k, v in (("jti", jti), ("sub", sub), ("kid", kid)) if v is not None}
    if fmt == "json":
        click.echo(safe_dumps({"revoked": revoked, "at": when}))
    else:
        echo("revoked " + ", ".join(f"{k} {v}" for k, v in revoked.items()))


@guard.command()
@_policy_options
@click.option("--host", default="127.0.0.1", show_default=True,
              help="listen address; keep it where only the proxy reaches it")
@click.option("--port", default=8088, show_default=True, type=click.IntRange(1, 65535))
@click.option("--events", "events_dir", type=click.Path(file_okay=False), default=None,
              help="directory of the access-event files (default: WORKSPACE/guard/access)")
@click.option("--actor-type", type=click.Choice(["customer", "employee", "service"]),
              default="customer", show_default=True,
              help="actor_type logged for accepted tokens without an actor_type claim")
@click.option("--cache-ttl", type=float, default=2.0, show_default=True, callback=_cache_ttl,
              help=f"seconds an accepted verdict is reused, 0 to {MAX_CACHE_TTL:g} (0: no cache)")
@click.option("--anonymous-per-second", type=click.IntRange(0, 1_000_000), default=100,
              show_default=True,
              help="access events a second for requests without a verified token; "
                   "the rest are counted in one summary event per second and reason")
@click.option("--route-header", type=click.Choice(list(ROUTE_HEADERS)), default="auto",
              show_default=True,
              help="where the proxy names the original request: x-original-uri (nginx), "
                   "x-forwarded-uri (Traefik, Caddy), auto (the first of these present)")
@click.option("--http", "http_impl", type=click.Choice(["auto", "httptools", "h11"]), default="auto",
              show_default=True, help="uvicorn's HTTP parser (auto: httptools when installed)")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="worker processes (each with its own cache and event files)")
@workspace_option(create=True)
def serve(keys_path: str, issuer: str | None, audience: str | None, ledger_url: str | None, max_lifetime: str,
          ledger_failure: str, host: str, port: int, events_dir: str | None, actor_type: str, cache_ttl: float,
          anonymous_per_second: int, route_header: str, http_impl: str, workers: int,
          workspace: Workspace) -> None:
    """Serve GET /auth for nginx auth_request or Envoy ext_authz: 200 with X-Custodes-Subject
    when the Bearer token is accepted, 401 otherwise; every decision is an access event."""
    import json
    import os

    import uvicorn

    from custodes.guard.server import CONFIG_ENV, build_app

    if not ledger_url:
        raise UsageError("custodes guard serve needs --ledger URL (sqlite:///PATH or redis://...): "
                         "without one, forged tokens signed by a stolen key would pass")
    if workers > 1 and ledger_url.startswith("memory:"):
        raise UsageError("--workers needs a shared ledger (sqlite:///PATH or redis://...), "
                         "not memory:, which each worker would hold alone")
    events = Path(events_dir) if events_dir else workspace.root / "guard" / "access"
    config = {"keys": str(Path(keys_path).resolve()), "issuer": issuer, "audience": audience,
              "ledger": ledger_url, "max_lifetime": parse_duration(max_lifetime),
              "ledger_failure": ledger_failure, "events": str(events.resolve()),
              "actor_type": actor_type, "cache_ttl": cache_ttl,
              "anonymous_per_second": anonymous_per_second, "route_header": route_header}
    # Loads the keys, opens the ledger and the events directory: bad input fails here, once.
    app = build_app(config)
    try:
        _check_can_listen(host, port)
    except CustodesError:
        if app.access_log is not None:
            app.access_log.close()
        raise
    note(f"custodes guard: GET http://{host}:{port}/auth ({plural(workers, 'worker')}); "
         f"access events in {events}")
    options: dict[str, Any] = dict(host=host, port=port, log_level="warning", access_log=False, lifespan="on",
                   http=http_impl, server_header=False, date_header=False)
    try:
        if workers > 1:  # each worker process builds its own app from the same configuration
            if app.verifier.ledger is not None:
                app.verifier.ledger.close()
            if app.access_log is not None:
                app.access_log.close()
            os.environ[CONFIG_ENV] = json.dumps(config)
            uvicorn.run("custodes.guard.server:app_from_environment", factory=True,
                        workers=workers, **options)
        else:
            uvicorn.run(app, **options)
    except SystemExit as exc:  # uvicorn exits 3 when it cannot start; the CLI promises 1
        if exc.code:
            raise CustodesError(f"custodes guard serve stopped: could not serve on {host}:{port}") from None
        raise


def _check_can_listen(host: str, port: int) -> None:
    """Fail with one clear line, before loading anything, when the address is taken."""
    import socket

    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        raise CustodesError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
