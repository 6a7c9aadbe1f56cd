"""Running the detections: full or incremental, findings built, merged, grouped and stored.

:func:`evaluate` is the engine-only core (no workspace: tests register Arrow tables); it runs
every applicable rule and returns CONTRACT.md §3 findings. :func:`detect` adds the workspace:
which days must be recomputed since the last run, merging with stored findings, incidents,
state.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from custodes.contract import EVENT_TIME_COLUMN
from custodes.detect import incidents as incident_grouping
from custodes.detect import lakefacts, posture, store
from custodes.detect.lakefacts import as_utc, available_datasets, data_bounds
from custodes.detect.daycache import DayCache
from custodes.detect.registry import all_rules
from custodes.detect.rule import (
    ENTITY_KEYS, SEVERITY_RANK, SKEW, Context, Rule, day_number, day_start, day_window, lit_time,
    stable_id,
)
from custodes.detect.state import State, fingerprint
from custodes.errors import CustodesError
from custodes.progress import QUIET, Bar
from custodes.text import noun
from custodes.timefmt import iso, parse_iso
from custodes.workspace import Workspace, private_dir

if TYPE_CHECKING:
    from custodes.engine import Engine


def _quiet(message: str) -> None:
    pass


# The core ---------------------------------------------------------------------------------------
#: How far the issuance ledger may lag the access log before requests are judged without
#: waiting for it: a stalled ledger feed must not blind the provenance rules for long
#: (``detect.issuance_max_lag_minutes``).
ISSUANCE_MAX_LAG_MINUTES = 120


def issuance_pending(issuance_last: dt.datetime | None, now: dt.datetime,
                     config: dict) -> tuple[dt.datetime, dt.datetime] | None:
    """The span of data time (start excluded) whose requests wait for their issuance rows.

    The ledger is taken as complete up to its latest row less the clock skew allowed between
    a use and its issuance: a token used later may have been issued by rows still on their
    way. Two bounds keep the wait from hiding anything: requests older than the allowed lag
    are judged anyway (a stalled ledger feed), and so are requests dated beyond the ledger's
    end by more than the lag (a ledger that far behind is not late, and a request stamped far
    ahead must not wait for ever). None when nothing waits."""
    lag = dt.timedelta(minutes=int(config.get("issuance_max_lag_minutes", ISSUANCE_MAX_LAG_MINUTES)))
    if issuance_last is None:
        start, end = now - lag, now
    else:
        start, end = max(issuance_last - SKEW, now - lag), min(issuance_last + lag, now)
    return (start, end) if start < end else None


def ledger_pending(engine: Engine, now: dt.datetime, available, config: dict) -> tuple[dt.datetime, dt.datetime] | None:
    """:func:`issuance_pending` for an engine's issuance table (no workspace state)."""
    if "issuance" not in available:
        return None
    t = engine.table("issuance")
    last = engine.to_arrow(t.aggregate(m=t.time.max())).to_pylist()[0]["m"]
    return issuance_pending(None if last is None else as_utc(last), now, config)


#: Days of per-day intermediate results kept: the longest look-back (low-and-slow's 42), and a week.
CACHE_DAYS = 49


def missing_for(rule: Rule, available: frozenset) -> list[str]:
    return [d for d in rule.requires if d not in available]


def run_rule(rule: Rule, ctx: Context) -> list[dict]:
    """One rule's findings (CONTRACT.md §3 dicts plus internal ``_group``/``_day``)."""
    if rule.materialize and rule.kind == "event":
        return _run_materialized(rule, ctx)
    found = ctx.engine.to_arrow(rule.query(ctx)).to_pylist()
    found = rule.judge(ctx, found)
    if not found:
        return []
    tops = top_entities(rule, ctx, found) if rule.top_entities and rule.has_rows else {}
    return [build_finding(rule, row, tops.get(_group_key(rule, row), {}), ctx.now) for row in found]


def _run_materialized(rule: Rule, ctx: Context) -> list[dict]:
    """Rules whose rows are few (every row is evidence): fetch the rows once, then aggregate
    them on the engine and count their entities in Arrow, instead of computing them twice."""
    rows = ctx.in_window(rule.rows(ctx))
    data = ctx.engine.to_arrow(rows.select(*counted_columns(rule, rows)))
    if data.num_rows == 0:
        return []
    rows = ctx.engine.register("detect_rule_rows", data)
    found = rule.judge(ctx, ctx.engine.to_arrow(rule.aggregate(rows)).to_pylist())
    tops = _count_tops(rule, data)
    return [build_finding(rule, row, tops.get(_group_key(rule, row), {}), ctx.now) for row in found]


#: Request columns that a rule's aggregate and counts may read: numbers and fixed-width keys,
#: cheap to fetch. The wide strings (request id, user agent, route...) are fetched only when
#: a rule names them (group, entity), and whole requests only for scope (evidence.py).
COUNTED_COLUMNS = ("time", "day", "actor_type", "record_count", "asn")


def counted_columns(rule: Rule, rows) -> list[str]:
    """The columns of ``rows`` a materialized rule's findings are built from."""
    wanted = [*COUNTED_COLUMNS, *rule.group_by, *rule.entity_columns.values(),
              *rule.top_entities.values(), *rule.counted_columns]
    wanted += [c for c in rows.columns if c.endswith("_key")]
    return [c for c in dict.fromkeys(wanted) if c in rows.columns]


def _group_key(rule: Rule, row: dict) -> tuple:
    return (row["day"], *(row[c] for c in rule.group_by))


def top_entities(rule: Rule, ctx: Context, found: list[dict]) -> dict[tuple, dict[str, list[str]]]:
    """Per finding, the most frequent values of each listed entity column among its rows.

    One query fetches the findings' rows (only the key and entity columns); counting and
    ranking happen in Arrow, so a rule's evidence is compiled and scanned once."""
    flagged = [{c: row[c] for c in ("day", *rule.group_by)} for row in found]
    sub = dataclasses.replace(ctx, since=day_start(min(f["day"] for f in flagged)))
    keys = ["day", *rule.group_by]
    wanted = {entity: column for entity, column in rule.top_entities.items() if column not in keys}
    if not wanted:
        return {}
    rows = rule.evidence_rows(sub, flagged)
    return _count_tops(rule, ctx.engine.to_arrow(rows.select(*keys, *sorted(set(wanted.values())))))


def _count_tops(rule: Rule, data) -> dict[tuple, dict[str, list[str]]]:
    keys = ["day", *rule.group_by]
    wanted = {entity: column for entity, column in rule.top_entities.items() if column not in keys}
    out: dict[tuple, dict[str, list[str]]] = {}
    for entity, column in wanted.items():
        counted = data.group_by([*keys, column]).aggregate([([], "count_all")]).to_pylist()
        counted = [r for r in counted if r[column] is not None]
        counted.sort(key=lambda r: (-r["count_all"], str(r[column])))
        for r in counted:
            values = out.setdefault(tuple(r[k] for k in keys), {}).setdefault(entity, [])
            if len(values) < rule.top_n:
                values.append(str(r[column]))
    return out


def _number(value):
    if isinstance(value, float):
        return round(value, 3)
    return value


def build_finding(rule: Rule, row: dict, tops: dict[str, list[str]], now: dt.datetime) -> dict:
    window = day_window(row["day"]) if row.get("day") is not None else "posture"
    group = {c: row[c] for c in rule.group_by}
    entities: dict[str, list[str]] = {k: [] for k in ENTITY_KEYS}
    for key, column in rule.entity_columns.items():
        if row.get(column) not in (None, ""):
            entities.setdefault(key, []).append(str(row[column]))
    for key, values in tops.items():
        entities.setdefault(key, []).extend(values)
    entities = {k: sorted(set(v)) for k, v in entities.items()}
    severity = rule.severity_of(row)
    return {
        "finding_id": stable_id("f", rule.id, window, *[f"{c}={group[c]}" for c in rule.group_by]),
        "rule_id": rule.id,
        "title": rule.title_of(row),
        "severity": severity,
        "attack": list(rule.attack),
        "first_seen": iso(as_utc(row["first_seen"])),
        "last_seen": iso(as_utc(row["last_seen"])),
        "detected_at": iso(now),
        "severity_history": [{"severity": severity, "detected_at": iso(now)}],
        "entities": entities,
        "evidence": {c: _number(row.get(c)) for c in rule.counts},
        "incident_id": None,
        "window": window,
        "_group": group,
        "_day": row.get("day"),
    }


def evaluate(engine: Engine, rules: list[Rule] | None = None, *, since: dt.datetime | None = None,
             config: dict | None = None, notify: Callable[[str], None] = _quiet,
             bounds: tuple[dt.datetime, dt.datetime] | None = None,
             pending=(), cache=None, recent=None) -> list[dict]:
    """Run the rules on an engine; findings of event rules for days from ``since`` (all: None).
    ``pending``: see :func:`issuance_pending` (computed when not given); ``cache``: a
    :class:`~custodes.detect.daycache.DayCache` valid for the days before ``since``;
    ``recent``: (first day, table) of access rows from that day on (see :func:`_recent_access`)."""
    rules = rules if rules is not None else all_rules()
    config = config or {}
    available = available_datasets(engine)
    if "access" not in available:
        raise CustodesError("no access data: ingest the access dataset first (custodes ingest access FILE)")
    bounds = bounds or data_bounds(engine)
    if pending == ():
        pending = ledger_pending(engine, bounds[1], available, config)
    findings = []
    for rule in rules:
        missing = missing_for(rule, available)
        if missing:
            notify(f"skipping {rule.id}: needs the {', '.join(missing)} {noun(len(missing), 'dataset')}, "
                   f"absent from the workspace")
            continue
        findings += run_rule(rule, _context(engine, rule, since, config, available, bounds, pending, cache, recent))
    return findings


def _context(engine: Engine, rule: Rule, since: dt.datetime | None, config: dict, available: frozenset,
             bounds: tuple[dt.datetime, dt.datetime], pending, cache, recent) -> Context:
    """What ``rule`` runs with: ``since`` applies to event rules only (posture is state at now)."""
    return Context(engine, bounds[1], since if rule.kind == "event" else None, config,
                   available, day_number(bounds[0]), pending, cache, recent)


# The workspace run ------------------------------------------------------------------------------
@dataclass
class RunSummary:
    mode: str
    now: str
    since: str | None
    rules_run: int
    rules_skipped: list[str]
    new_findings: int
    findings: int
    incidents: int
    by_severity: dict[str, int] = field(default_factory=dict)
    top_incidents: list[dict] = field(default_factory=list)


def detect(workspace: Workspace, *, engine: Engine | None = None, backend: str | None = None, full: bool = False,
           notify: Callable[[str], None] = _quiet, progress: Bar = QUIET) -> RunSummary:
    """Detect over what arrived since the last run (everything with ``full``), store the results.
    ``progress`` is told each rule as it runs (the CLI's bar: custodes.progress)."""
    from custodes.engine import connect

    if engine is None:
        with connect(workspace, backend) as own:
            if own.name == "duckdb":  # custodes.progress shows a person the rules; DuckDB's own bar
                own.con.raw_sql("SET enable_progress_bar = false")  # would write into stdout
                # every rule reads the same files: their footers once, not once a query
                own.con.raw_sql("SET parquet_metadata_cache = true")
            return detect(workspace, engine=own, full=full, notify=notify, progress=progress)
    with _one_run_at_a_time(workspace):
        return _detect(workspace, engine, full, notify, progress)


@contextlib.contextmanager
def _one_run_at_a_time(workspace: Workspace):
    """Runs of one workspace take turns (watch's cycle and a person's `custodes detect`): each
    reads the state, the day cache and the findings another would be rewriting."""
    folder = private_dir(workspace.detect)
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _detect(workspace: Workspace, engine: Engine, full: bool, notify: Callable[[str], None], progress: Bar) -> RunSummary:
    rules = all_rules(workspace)
    config = posture.detect_settings(workspace)
    available = available_datasets(engine)
    if "access" not in available:
        raise CustodesError("no access data: ingest the access dataset first (custodes ingest access FILE)")
    state = State.load(workspace)
    incremental = (not full and state.runs > 0 and state.rules == fingerprint(rules)
                   and state.first is not None and state.now is not None)
    facts = lakefacts.read(engine, available, state.seq if incremental else {})
    if incremental and any(facts.marks.get(d, 0) < seq for d, seq in state.seq.items()):
        # a lake that lost rows since the last run (restored from an older copy) is judged anew
        incremental = False
        facts = lakefacts.read(engine, available, {})
    marks = facts.marks
    bounds, issuance_last = _bounds(state if incremental else None, facts)
    pending = issuance_pending(issuance_last, bounds[1], config) if "issuance" in available else None
    previous = store.load_findings_raw(workspace)
    since_by_rule = _since_by_rule(rules, state, marks, _first_new_day(facts)) if incremental else {}
    cache = DayCache(workspace.detect / "cache")
    if not incremental:
        cache.clear()
    recent = _recent_access(engine, since_by_rule, bounds[1])

    kept, fresh, skipped = [], [], []
    progress.start(len(rules))
    for rule in rules:
        progress.item(rule.id)
        missing = missing_for(rule, available)
        if missing:
            notify(f"skipping {rule.id}: needs the {', '.join(missing)} {noun(len(missing), 'dataset')}, "
                   f"absent from the workspace")
            skipped.append(rule.id)
            progress.done()
            continue
        plan = since_by_rule.get(rule.id) if rule.kind == "event" else None
        if plan != "nothing":
            since = day_start(plan) if isinstance(plan, int) else None
            # the run's datasets, bounds and horizon as found once above (evaluate would look again per rule)
            fresh += run_rule(rule, _context(engine, rule, since, config, available, bounds, pending, cache, recent))
        if incremental:
            kept += [f for f in previous if f["rule_id"] == rule.id and _still_valid(f, plan)]
        progress.done()
    _keep_history(fresh, previous)
    findings = kept + fresh
    incidents = incident_grouping.group(findings)
    findings.sort(key=lambda f: (f["first_seen"], f["finding_id"]))
    store.save(workspace, findings, incidents)
    new_ids = {f["finding_id"] for f in fresh} - {f["finding_id"] for f in previous}
    State(rules=fingerprint(rules), seq=marks, first=iso(bounds[0]), now=iso(bounds[1]),
          issuance_last=None if issuance_last is None else iso(issuance_last),
          horizon=iso(pending[0] if pending else bounds[1]),
          runs=state.runs + 1).save(workspace)
    cache.prune(day_number(bounds[1]) - CACHE_DAYS)
    return _summary("incremental" if incremental else "full", bounds[1], since_by_rule, rules,
                    skipped, len(new_ids), findings, incidents)


def _still_valid(finding: dict, plan) -> bool:
    """Whether a stored finding survives this run: its rule computed nothing new, or only later days."""
    if plan == "nothing":
        return True
    return isinstance(plan, int) and finding["_day"] is not None and finding["_day"] < plan


def _bounds(state: State | None, facts: lakefacts.LakeFacts) -> tuple[tuple[dt.datetime, dt.datetime], dt.datetime | None]:
    """((first, last) access time, last issuance time): the new rows' times, widened by the
    last run's (``state``, when the facts cover only the rows stored since)."""
    first, now, issued = facts.first_new.get("access"), facts.last_new.get("access"), facts.last_new.get("issuance")
    if state is not None:
        first = min(t for t in (first, parse_iso(state.first)) if t is not None)
        now = max(t for t in (now, parse_iso(state.now)) if t is not None)
        known = [t for t in (issued, state.issuance_last and parse_iso(state.issuance_last)) if t is not None]
        issued = max(known) if known else None
    if now is None:
        raise CustodesError("the access dataset is empty: nothing to detect")
    return (first, now), issued


#: An incremental run whose days to recompute start at most this many days before now reads
#: them from a copy in the engine's memory instead of the lake.
RECENT_DAYS = 1


def _recent_access(engine: Engine, since_by_rule: dict, now: dt.datetime):
    """(first day, table): the access rows of the days an incremental run recomputes, copied
    once into DuckDB's memory so that every rule reads them from there (most rules read only
    those days; a small run's time goes into opening the lake's files again and again).
    None on other engines, for full runs, and when the days reach far back."""
    days = [v for v in since_by_rule.values() if isinstance(v, int)]
    if getattr(engine, "name", None) != "duckdb" or not days or None in since_by_rule.values():
        return None
    first = min(days)
    if first < day_number(now) - RECENT_DAYS:
        return None
    access = engine.table("access")
    rows = access.filter((access.time >= lit_time(day_start(first))) & (access.time <= lit_time(now)))
    engine.con.raw_sql(f"CREATE OR REPLACE TEMP TABLE detect_recent_access AS {engine.con.compile(rows)}")
    return first, engine.con.table("detect_recent_access")


def _first_new_day(facts: lakefacts.LakeFacts) -> int | None:
    """The earliest day holding a row ingested since the last run (late events included)."""
    days = [day_number(t) for t in facts.first_new.values() if t is not None]
    return min(days) if days else None


def _since_by_rule(rules, state: State, marks, new_day: int | None) -> dict:
    """Per event rule: the first day to recompute (an int), None for all days, "nothing".

    Requests after the last run's issuance horizon were left unjudged; once anything new
    arrives, their day is recomputed too."""
    if new_day is not None and state.horizon is not None:
        new_day = min(new_day, day_number(parse_iso(state.horizon)))
    changed_reference = {d for d, m in marks.items()
                         if d not in EVENT_TIME_COLUMN and m > state.seq.get(d, 0)}
    out = {}
    for rule in rules:
        if changed_reference & (set(rule.requires) | set(rule.optional)):
            out[rule.id] = None  # a changed roster or key list can change any day's verdict
        else:
            out[rule.id] = new_day if new_day is not None else "nothing"
    return out


def _keep_history(fresh: list[dict], previous: list[dict]) -> None:
    """A finding keeps the data time of the run that first reported it (time to detect), and
    when each severity was first reported (``severity_history``); full runs keep them too."""
    before = {f["finding_id"]: f for f in previous}
    for f in fresh:
        old = before.get(f["finding_id"])
        if old is not None:
            now = f["detected_at"]
            f["detected_at"] = min(old["detected_at"], now)
            f["severity_history"] = grown_history(incident_grouping.history_of(old), f["severity"], now)


def grown_history(history: list[dict], severity: str, now: str) -> list[dict]:
    """``history`` with ``severity`` reported at ``now`` if it was not reported before. Levels
    above it are dropped: later evidence withdrew them (late events, a corrected roster)."""
    kept = [e for e in history if SEVERITY_RANK[e["severity"]] <= SEVERITY_RANK[severity]]
    if not any(e["severity"] == severity for e in kept):
        kept.append({"severity": severity, "detected_at": now})
    return kept


def _summary(mode, now, since_by_rule, rules, skipped, new, findings, incidents) -> RunSummary:
    counts: dict[str, int] = {}
    for f in findings:
        counts[f["severity"]] = counts.get(f["severity"], 0) + 1
    days = [v for v in since_by_rule.values() if isinstance(v, int)]
    return RunSummary(
        mode=mode, now=iso(now), since=day_window(min(days)) if days else None,
        rules_run=len(rules) - len(skipped), rules_skipped=skipped, new_findings=new,
        findings=len(findings), incidents=len(incidents), by_severity=counts,
        top_incidents=[{k: i[k] for k in ("incident_id", "severity", "title")} for i in incidents[:5]],
    )
