"""`custodes serve`: run the web console, and manage its users.

    custodes serve [--host 127.0.0.1] [--port 8700] [--workers N] [--trusted-proxy ADDR|CIDR ...]
    custodes serve --add-user NAME --role viewer|analyst|admin [--password-stdin] [--replace]
    custodes serve --remove-user NAME
    custodes serve --list-users [--format json]
    custodes serve --verify-audit
    custodes serve --restart-audit

Passwords are read from a hidden prompt or from stdin, never from the command line (argv is
visible to every user of the machine and kept in shell history).
"""

from __future__ import annotations

import getpass
import ipaddress
import json
import os
import socket
import ssl
import sys

import click

from custodes.clikit import echo, emit_json, format_option, note, workspace_option
from custodes.console.roles import ROLES
from custodes.errors import CustodesError, UsageError
from custodes.text import plural
from custodes.workspace import Workspace

DEFAULT_PORT = 8700


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise CustodesError("--password-stdin: nothing on standard input")
        return line.rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _manage_users(workspace: Workspace, add_user, role, remove_user, list_users, password_stdin, replace, fmt):
    from custodes.console.users import UserStore

    store = UserStore.of(workspace)
    if add_user:
        if not role:
            raise UsageError("--add-user needs --role (one of " + ", ".join(ROLES) + ")")
        user = store.add(add_user.strip().lower(), role, _read_password(password_stdin), replace=replace)
        note(f"console user {user.name!r} ({user.role}) saved in {store.path}"
             + ("; their open sessions end on their next request" if replace else ""))
    if remove_user:
        store.remove(remove_user.strip().lower())
        note(f"console user {remove_user!r} removed; their sessions end on their next request")
    if list_users:
        users = [{"name": u.name, "role": u.role} for u in store.list()]
        if fmt == "json":
            emit_json(users)
        else:
            for u in users:
                echo(f"{u['name']}\t{u['role']}")


def _verify_audit(workspace: Workspace, fmt, anchors: tuple[str, ...] = ()) -> None:
    from custodes.console.audit import verify
    from custodes.console.users import console_dir

    check = verify(console_dir(workspace) / "audit.jsonl", workspace, anchors)
    if fmt == "json":
        emit_json({"ok": check.ok, "entries": check.entries, "problem": check.problem, "line": check.line})
    elif check.ok:
        echo(f"audit trail intact: {plural(check.entries, 'entry')}")
    else:
        echo(f"audit trail BROKEN{f' at line {check.line}' if check.line else ''}: {check.problem}")
    if not check.ok:
        raise CustodesError("the console audit trail is broken" + (f" at line {check.line}" if check.line else ""))


def _restart_audit(workspace: Workspace, fmt) -> None:
    from custodes.console.audit import restart
    from custodes.console.users import console_dir

    entry = restart(console_dir(workspace) / "audit.jsonl", by=getpass.getuser(), workspace=workspace)
    if fmt == "json":
        emit_json(entry)
    else:
        echo(f"the broken audit trail is kept as {entry['target']} (sha256 {entry['detail']['sha256']}); "
             f"a new trail starts with its record: {entry['detail']['problem']}")


@click.command()
@workspace_option
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on (loopback by default)")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True)
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="Host header to accept (repeatable; default: loopback names, or any when --host is not loopback)")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), default=None, help="serve https with this certificate (PEM)")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), default=None, help="private key of --tls-cert (PEM)")
@click.option("--secure-cookies", is_flag=True, help="mark cookies Secure (TLS terminated by a proxy in front)")
@click.option("--trusted-proxy", "trusted_proxies", multiple=True, metavar="ADDR|CIDR",
              help="a reverse proxy whose X-Forwarded-For names the client (repeatable; "
                   "default: console.trusted_proxies in custodes.yaml)")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="worker processes (more than one needs console.redis in custodes.yaml)")
@click.option("--add-user", metavar="NAME", default=None, help="add a console user (password from a prompt or --password-stdin)")
@click.option("--role", type=click.Choice(ROLES), default=None, help="role of --add-user")
@click.option("--password-stdin", is_flag=True, help="read --add-user's password from the first line of stdin")
@click.option("--replace", is_flag=True, help="with --add-user: replace an existing user's password and role")
@click.option("--remove-user", metavar="NAME", default=None, help="remove a console user")
@click.option("--list-users", is_flag=True, help="list console users and roles")
@click.option("--verify-audit", is_flag=True, help="check the console audit trail's hash chain; exit 1 when broken")
@click.option("--anchor", "anchors", multiple=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="with --verify-audit: every audit head recorded in this anchor file must be in the trail "
                   "(repeatable; default: the seal.anchor file of custodes.yaml)")
@click.option("--restart-audit", is_flag=True,
              help="move a broken audit trail aside (kept) and start a new one that records the break")
@format_option()
def serve(workspace: Workspace, host, port, allowed_hosts, tls_cert, tls_key, secure_cookies, trusted_proxies, workers,
          add_user, role, password_stdin, replace, remove_user, list_users, verify_audit, anchors, restart_audit, fmt):
    """Run the web console for analysts (incidents, blast radius, findings, credential posture,
    lake state), with its own users, roles and audit trail."""
    if add_user or remove_user or list_users:
        return _manage_users(workspace, add_user, role, remove_user, list_users, password_stdin, replace, fmt)
    if verify_audit:
        return _verify_audit(workspace, fmt, anchors)
    if restart_audit:
        return _restart_audit(workspace, fmt)
    if role or password_stdin or replace:
        raise UsageError("--role, --password-stdin and --replace go with --add-user")
    if bool(tls_cert) != bool(tls_key):
        raise UsageError("--tls-cert and --tls-key go together")
    _run(workspace, host, port, list(allowed_hosts), tls_cert, tls_key, secure_cookies,
         list(trusted_proxies) or None, workers)


def _check_tls(cert: str | None, key: str | None) -> None:
    """Load the certificate and key once before serving, so a bad pair is one line, not a
    traceback from inside the server."""
    if not cert:
        return
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key)
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise CustodesError(f"--tls-cert {cert} / --tls-key {key}: not a usable PEM certificate and key "
                            f"({getattr(exc, 'reason', None) or exc})") from None


def _listen(host: str, port: int) -> socket.socket:
    """Bind the listening socket here, so a busy port or a bad address is one line and exit 1."""
    sock = None
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        if sock is not None:
            sock.close()
        raise CustodesError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def _run(workspace: Workspace, host, port, allowed_hosts, tls_cert, tls_key, secure_cookies, trusted_proxies, workers) -> None:
    from custodes.console.shared import SETTING as REDIS_SETTING
    from custodes.console.users import UserStore

    store = UserStore.of(workspace)
    if not store.names():
        raise CustodesError(
            "the console has no users, and it has no default password. Add one first:\n"
            f"  custodes serve --workspace {workspace.root} --add-user NAME --role admin")
    if workers > 1 and not workspace.setting(REDIS_SETTING, None):
        raise UsageError(f"--workers {workers} needs {REDIS_SETTING} in custodes.yaml: "
                         "sessions and login failures kept in one process's memory are not seen by the others")
    _check_tls(tls_cert, tls_key)
    from custodes.console.app import LOOPBACK_HOSTS, create_app

    if not allowed_hosts:
        allowed_hosts = list(LOOPBACK_HOSTS) if _is_loopback(host) else ["*"]
    if not _is_loopback(host):
        note(f"warning: listening on {host}, reachable from other machines; "
             "serve it over https (--tls-cert/--tls-key or a proxy with --secure-cookies) "
             "and name the --allowed-host it is reached by")
    options = {"https": bool(tls_cert) or secure_cookies, "allowed_hosts": allowed_hosts,
               "trusted_proxies": trusted_proxies}
    app = create_app(workspace, users=store, **options)  # checks the options once, here
    sock = _listen(host, port)
    scheme = "https" if tls_cert else "http"
    note(f"custodes console on {scheme}://{host}:{sock.getsockname()[1]}/ (workspace {workspace.root}); "
         "Ctrl-C to stop")
    _serve(app if workers == 1 else None, sock, workers, tls_cert, tls_key,
           {"workspace": str(workspace.root), **options})


def _serve(app, sock, workers, tls_cert, tls_key, options) -> None:
    import uvicorn

    settings = dict(log_level="warning", access_log=False, ssl_certfile=tls_cert, ssl_keyfile=tls_key,
                    server_header=False, proxy_headers=False)
    try:
        if app is not None:
            uvicorn.Server(uvicorn.Config(app, **settings)).run(sockets=[sock])
            return
        # Workers are separate processes that import the app by name; uvicorn binds the port
        # again itself (it was free a moment ago: _listen checked it).
        from custodes.console.app import ENVIRONMENT

        host, port = sock.getsockname()[:2]
        sock.close()
        os.environ[ENVIRONMENT] = json.dumps(options)
        uvicorn.run("custodes.console.app:app_from_environment", factory=True, workers=workers,
                    host=host, port=port, **settings)
    except SystemExit as exc:  # uvicorn exits 3 when it cannot start; custodes says so and exits 1
        if exc.code not in (0, None):
            raise CustodesError(f"the console could not start (uvicorn exit status {exc.code}); see above") from None
        raise
    finally:
        sock.close()
