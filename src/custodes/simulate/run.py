"""``simulate()``: build the world, cast the scenarios, write every day, then the truth.

Days are independent (each has its own random streams), so they are written by a small pool of
forked worker processes, one day at a time each: memory stays that of a day or two whatever the
number of days, and the output is byte-identical whatever the number of workers.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from custodes.errors import CustodesError, UsageError
from custodes.simulate import backoffice, records, reference, truth, writer
from custodes.simulate.clock import rfc3339
from custodes.simulate.scenarios import SCENARIOS, Scenario
from custodes.simulate.traffic import SOURCE_REQUEST, customer_day, request_ids
from custodes.simulate.world import DEFAULT_START, World, build_world, rng_for
from custodes.text import plural
from custodes.timefmt import from_epoch_us

DEFAULT_CUSTOMERS = 50_000
DEFAULT_DAYS = 60
DEFAULT_SEED = 7
MIN_CUSTOMERS = 50
MAX_DAYS = 3_650
MIN_SCENARIO_DAYS = 3
STREAM_TRAFFIC, STREAM_BACKOFFICE = 100, 200
EVENT_DATASETS = ("access", "issuance")


@dataclass
class Summary:
    """What a run wrote: sizes, the scenarios' windows and where everything is."""

    out_dir: Path
    seed: int
    customers: int
    days: int
    start: str
    end: str
    counts: dict[str, int]
    scenarios: dict[str, dict]
    lookalikes: list[str]
    paths: dict[str, str]
    seconds: float = 0.0
    workers: int = 1
    files: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        attacks = ", ".join(f"{name} ({plural(info['account_count'], 'account')})" for name, info in self.scenarios.items())
        return (f"{self.customers:,} customers, {plural(self.days, 'day')} ({self.start} to {self.end}): "
                f"{self.counts['access']:,} requests, {self.counts['issuance']:,} tokens; "
                f"scenarios: {attacks or 'none'}; written to {self.out_dir}")

    def to_dict(self) -> dict:
        out = asdict(self)
        out["out_dir"] = str(self.out_dir)
        return out


def simulate(out_dir: str | os.PathLike, *, customers: int = DEFAULT_CUSTOMERS, days: int = DEFAULT_DAYS,
             seed: int = DEFAULT_SEED, scenarios: Iterable[str] | None = None, lookalikes: bool = True,
             start: dt.datetime | dt.date = DEFAULT_START, workers: int | None = None,
             progress: Callable[[str], None] | None = None) -> Summary:
    """Write a simulated platform's eight datasets and ``ground_truth.json`` into ``out_dir``.

    ``scenarios``: names from :data:`SCENARIOS` (None: all of them; ``[]``: none).
    """
    names = _check(customers, days, seed, scenarios)
    start = _midnight(start)
    out = _prepare(Path(out_dir))
    began = time.perf_counter()
    world = build_world(customers, days, seed, start, lookalikes=lookalikes)
    cast = [SCENARIOS[name](world) for name in names]
    workers = _workers(workers, days, customers)
    results = _run_days(world, cast, out, workers, progress)
    counts = {"access": sum(r["access"] for r in results), "issuance": sum(r["issuance"] for r in results)}
    for filename, (dataset, build) in reference.REFERENCE_FILES.items():
        table = build(world)
        counts[dataset] = table.num_rows
        if filename.endswith(".csv"):
            writer.write_csv(table, out / filename)
        else:
            writer.write_parquet(table, out / filename)
    ground = truth.write(out, world, cast, results)
    return Summary(
        out_dir=out, seed=seed, customers=customers, days=days, start=rfc3339(world.start),
        end=rfc3339(world.end), counts=counts,
        scenarios={s["name"]: {k: s[k] for k in ("start", "end", "accounts", "account_count", "requests",
                                                  "records")} for s in ground["scenarios"]},
        lookalikes=[entry["name"] for entry in ground["lookalikes"]],
        paths=layout(out), seconds=round(time.perf_counter() - began, 3), workers=workers,
    )


def layout(out: Path) -> dict[str, str]:
    paths = {name: str(out / name / "YYYY-MM-DD.parquet") for name in EVENT_DATASETS}
    paths.update({dataset: str(out / filename) for filename, (dataset, _) in reference.REFERENCE_FILES.items()})
    paths["ground_truth"] = str(out / truth.GROUND_TRUTH)
    return paths


def _check(customers: int, days: int, seed: int, scenarios: Iterable[str] | None) -> list[str]:
    if isinstance(scenarios, str):
        scenarios = [scenarios]
    names = list(SCENARIOS) if scenarios is None else list(dict.fromkeys(scenarios))
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise UsageError(f"unknown scenario {unknown[0]!r}; expected one of {', '.join(SCENARIOS)}")
    if not isinstance(customers, int) or customers < MIN_CUSTOMERS:
        raise UsageError(f"--customers must be a whole number of at least {MIN_CUSTOMERS} (got {customers})")
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise UsageError(f"--days must be between 1 and {MAX_DAYS} (got {days})")
    if names and days < MIN_SCENARIO_DAYS:
        raise UsageError(f"scenarios need at least {MIN_SCENARIO_DAYS} days (got --days {days}); "
                         "add days or pass no scenario")
    if not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise UsageError(f"--seed must be between 0 and {2**32 - 1} (got {seed})")
    return names


def _midnight(start: dt.datetime | dt.date) -> dt.datetime:
    if not isinstance(start, dt.datetime):
        start = dt.datetime(start.year, start.month, start.day)
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.timezone.utc)
    start = start.astimezone(dt.timezone.utc)
    return start.replace(hour=0, minute=0, second=0, microsecond=0)


def _prepare(out: Path) -> Path:
    """Create the output directory, or clear a previous run's output from it; never touch
    a directory that holds anything else."""
    if out.exists() and not out.is_dir():
        raise CustodesError(f"output {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / truth.GROUND_TRUTH).exists():
        raise CustodesError(f"output directory {out} is not empty and holds no earlier simulation; "
                            "choose an empty or new directory")
    writer.private_dir(out)
    for sub, pattern in (("access", "*.parquet"), ("issuance", "*.parquet"), ("truth", "*.accounts")):
        for old in (out / sub).glob(pattern) if (out / sub).is_dir() else ():
            old.unlink()
    return out


#: Below this many customer-days, forking workers costs more than it saves.
PARALLEL_FROM = 2_000_000


def _workers(requested: int | None, days: int, customers: int) -> int:
    if requested is not None:
        if requested < 1:
            raise UsageError(f"--workers must be at least 1 (got {requested})")
        return min(requested, days)
    if customers * days < PARALLEL_FROM:
        return 1
    return max(1, min(days, os.cpu_count() or 1, 4))


# Worker processes inherit this through fork: the world is built once, never pickled.
_JOB: tuple[World, list[Scenario], Path] | None = None


def _run_days(world: World, cast: list[Scenario], out: Path, workers: int,
              progress: Callable[[str], None] | None) -> list[dict]:
    global _JOB
    _JOB = (world, cast, out)
    results = []
    try:
        if workers == 1 or "fork" not in multiprocessing.get_all_start_methods():
            iterator = map(_write_day, range(world.days))
            results = _collect(iterator, world, progress)
        else:
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                results = _collect(pool.imap(_write_day, range(world.days)), world, progress)
    finally:
        _JOB = None
    return results


def _collect(iterator, world: World, progress) -> list[dict]:
    results = []
    for result in iterator:
        results.append(result)
        if progress:
            progress(f"day {result['day'] + 1}/{world.days} {result['date']}: "
                     f"{result['access']:,} requests, {result['issuance']:,} tokens")
    return results


def _write_day(day: int) -> dict:
    world, cast, out = _JOB
    access, issuance, result = generate_day(world, cast, day)
    writer.write_parquet(access, out / "access" / f"{result['date']}.parquet")
    writer.write_parquet(issuance, out / "issuance" / f"{result['date']}.parquet")
    return result


def generate_day(world: World, cast: list[Scenario], day: int) -> tuple[pa.Table, pa.Table, dict]:
    """One day's access and issuance tables, time-ordered, and what ground truth needs of it."""
    customers = customer_day(world, day, rng_for(world.seed, STREAM_TRAFFIC, day))
    rng = rng_for(world.seed, STREAM_BACKOFFICE, day)
    excluded = set().union(*(s.replaces_staff(day) for s in cast))
    access = [customers.access, *backoffice.customer_service_day(world, day, rng, excluded),
              *backoffice.staff_key_day(world, day, rng)]
    issuance = [customers.issuance]
    customers.access = customers.issuance = None  # let combine() release them column by column
    if world.benign:
        service_access, service_tokens = backoffice.notification_day(world, day, rng)
        access += [service_access, backoffice.warehouse_day(world, day, rng)]
        issuance.append(service_tokens)
    scenario_stats = {}
    for scenario in cast:
        table = scenario.access(day)
        if table is not None and table.num_rows:
            access.append(table)
            scenario_stats[scenario.name] = _stats(table)
    access_table = records.combine("access", access)
    # Request ids are drawn once for the whole ordered day: unique, and cheap to make last.
    access_table = access_table.set_column(
        access_table.schema.get_field_index("request_id"), "request_id",
        request_ids(world.seed, SOURCE_REQUEST, day, access_table.num_rows))
    issuance_table = records.combine("issuance", issuance)
    result = {
        "day": day, "date": from_epoch_us(world.day_start(day)).strftime("%Y-%m-%d"),
        "access": access_table.num_rows, "issuance": issuance_table.num_rows,
        "lost_token_ids": customers.lost_token_ids, "late_rows": customers.late_rows,
        "skewed_rows": customers.skewed_rows, "travel_rows": customers.travel_rows,
        "scenarios": scenario_stats,
    }
    return access_table, issuance_table, result


def _stats(table: pa.Table) -> dict:
    accounts = pc.unique(table["account_id"].cast(pa.string()).drop_null()).to_pylist()
    times = pc.min_max(table["time"])
    return {
        "accounts": accounts,
        "src_ips": pc.unique(table["src_ip"].cast(pa.string())).to_pylist(),
        "first": times["min"].value, "last": times["max"].value,
        "requests": table.num_rows,
        "records": int(pc.sum(pc.fill_null(table["record_count"], 1)).as_py()),
    }
