"""Overlap reading, validating, keying and writing: each stage releases the GIL (Arrow, DuckDB,
Parquet are C++), so a reader thread, two validating threads, a keying thread and two writing
threads keep both cores busy while at most a few batches are in memory at once."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

_DONE = object()


def ordered_map(fn: Callable, items: Iterator, workers: int = 2) -> Iterator:
    """``fn(slot, item)`` for each item, ``workers`` at a time, results in the items' order.
    ``slot`` (0..workers-1) is never used by two calls at once: a per-slot resource (a DuckDB
    cursor) needs no lock. At most ``workers`` items are in flight.

    Items are drawn on a thread of their own, so a result is handed on the moment it is
    ready: drawing and mapping in one loop held the first validated batch back until the
    third was read (0.09 s of a 1M-row Parquet ingest's 1.1 s, with the writer idle)."""
    futures: queue.Queue = queue.Queue()
    free = threading.Semaphore(workers)
    stop = threading.Event()
    with ThreadPoolExecutor(workers, thread_name_prefix="custodes-validate") as pool:

        def feed():
            try:
                for i, item in enumerate(items):
                    while not free.acquire(timeout=0.1):
                        if stop.is_set():
                            return
                    if stop.is_set():
                        return
                    # item i + workers is submitted only after item i's call returned (the
                    # slot is released below), so i % workers is never shared by two calls
                    futures.put((pool.submit(fn, i % workers, item), None))
                futures.put((_DONE, None))
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
                futures.put((_DONE, exc))

        feeder = threading.Thread(target=feed, name="custodes-reader", daemon=True)
        feeder.start()
        try:
            while True:
                future, exc = futures.get()
                if future is _DONE:
                    if exc is not None:
                        raise exc
                    return
                result = future.result()
                free.release()
                yield result
        finally:
            stop.set()
            feeder.join(timeout=5)
            while not futures.empty():
                future, _ = futures.get_nowait()
                if future is not _DONE:
                    future.cancel()
