"""Overlap reading, validating and writing: each stage releases the GIL (Arrow, DuckDB,
Parquet are C++), so a reader thread, two validating threads and a writer thread keep both
cores busy while at most a few batches are in memory at once."""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

_DONE = object()


def prefetch(items: Iterator, depth: int = 1) -> Iterator:
    """Iterate ``items`` in a background thread, at most ``depth`` items ahead."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def run():
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((_DONE, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            q.put((_DONE, exc))

    thread = threading.Thread(target=run, name="custodes-reader", daemon=True)
    thread.start()
    try:
        while True:
            item, exc = q.get()
            if item is _DONE:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


def ordered_map(fn: Callable, items: Iterator, workers: int = 2) -> Iterator:
    """``fn(slot, item)`` for each item, ``workers`` at a time, results in the items' order.
    ``slot`` (0..workers-1) is never used by two calls at once: a per-slot resource (a DuckDB
    cursor) needs no lock. At most ``workers`` items are in flight."""
    with ThreadPoolExecutor(workers, thread_name_prefix="custodes-validate") as pool:
        pending: deque = deque()
        try:
            for i, item in enumerate(items):
                if len(pending) >= workers:
                    yield pending.popleft().result()
                pending.append(pool.submit(fn, i % workers, item))
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
