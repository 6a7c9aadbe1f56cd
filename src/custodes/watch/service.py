"""``custodes watch`` as a service: one per workspace (a lock), cycles every ``interval``
seconds until SIGTERM or SIGINT, which end the current cycle first (a second SIGINT stops at
once: everything is crash-safe, that only costs work), ``/metrics`` and ``/healthz`` on request.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import threading

from custodes.errors import CustodesError
from custodes.watch.cycle import CycleReport, run_cycle
from custodes.watch.metrics import Health, app, registry_for, start_server
from custodes.workspace import Workspace, private_dir

log = logging.getLogger("custodes.watch")


@contextlib.contextmanager
def watch_lock(workspace: Workspace):
    """Held while a watch runs: a second one on the same workspace is refused in one line. The
    kernel drops the lock when the process dies, however it dies."""
    path = private_dir(workspace.root / "watch") / "watch.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise CustodesError(f"another custodes watch (pid {holder}) is running on the workspace "
                                f"{workspace.root} (lock {path})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event):
    """SIGTERM and SIGINT set ``stop``; a second SIGINT interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        log.info("%s: stopping after the current cycle", signal.Signals(signum).name,
                 extra={"event": "stopping", "signal": signal.Signals(signum).name})
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def run(workspace: Workspace, *, once: bool = False, interval: float = 60.0, metrics: tuple[str, int] | None = None,
        stop: threading.Event | None = None, on_cycle=None) -> CycleReport:
    """Run cycles until ``stop`` (or one, with ``once``); the last cycle's report.
    ``on_cycle(report)`` is called after each cycle."""
    stop = stop or threading.Event()
    health = Health(interval)
    with watch_lock(workspace), stop_on_signals(stop):
        server = None
        if metrics is not None:
            registry, timings = registry_for(workspace)
            server, _ = start_server(metrics, app(registry, health))
            host, port = server.server_address[:2]
            shown = f"[{host}]" if ":" in host else host
            log.info("metrics on http://%s:%d/metrics, health on /healthz", shown, port,
                     extra={"event": "listening", "host": host, "port": port})
        log.info("watching %s%s", workspace.root, "" if once else f" every {interval:g} s",
                 extra={"event": "start", "workspace": str(workspace.root), "interval": interval, "once": once})
        try:
            while True:
                health.begin()
                report = run_cycle(workspace, stop=stop)
                health.end(report)
                if server is not None:
                    timings.observe(report)
                if on_cycle is not None:
                    on_cycle(report)
                if once or stop.wait(interval):
                    break
        finally:
            if server is not None:
                server.shutdown()
                server.server_close()
    log.info("stopped", extra={"event": "stopped"})
    return report
