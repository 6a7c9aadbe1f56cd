"""Always on: ``custodes watch`` ingests what is new in every source, detects, alerts, and
sleeps, until SIGTERM (CONTRACT.md §7, docs/watch.md).

Library API::

    run_cycle(workspace, now=None, stop=None) -> CycleReport     # one cycle (custodes watch --once)
    run(workspace, once=False, interval=60.0, metrics=None, stop=None) -> CycleReport

Modules: ``config`` (``sources:`` in custodes.yaml), ``pick`` (which files a cycle takes),
``state`` (``WORKSPACE/watch/state.db``), ``cycle``, ``service`` (lock, signals, loop),
``metrics`` (/metrics, /healthz), ``logs`` (text or JSON lines), ``replay`` (a simulated world
fed through watch in slices: the demo and the bench).
"""

from custodes.watch.cycle import CycleReport, SourceReport, run_cycle
from custodes.watch.service import run

__all__ = ["CycleReport", "SourceReport", "run", "run_cycle"]
