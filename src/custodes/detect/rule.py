"""The Rule base class: one detection = metadata at class level + one query written once in Ibis.

A rule's :meth:`Rule.query` returns an Ibis table with one row per finding (never one per event):
the grouping columns it declares in ``group_by`` (the finding's window and entities), plus
``first_seen``, ``last_seen`` and the evidence counts it declares in ``counts``. The runner turns
those few rows into CONTRACT.md §3 findings (severity, title, stable id) in Python, so Python
only ever touches findings, never events.

Event rules work per UTC day (``window`` is the day, ``YYYY-MM-DD``): a finding's id is a hash
of the rule id, its entities and its day, so an incremental run that recomputes the days that
received new rows gives exactly the findings a full run gives. Posture rules (``kind =
"posture"``) judge the state of keys and credentials at the run's data-time now; their window
is ``posture``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import ibis

if TYPE_CHECKING:
    import pyarrow as pa

from custodes.detect.timecols import day_number_expr
from custodes.timefmt import EPOCH

SEVERITIES = ("info", "low", "medium", "high", "critical")
SEVERITY_RANK = {name: i for i, name in enumerate(SEVERITIES)}

#: The five entity keys every finding carries (CONTRACT.md §3); ``asn`` and ``country`` are ours.
ENTITY_KEYS = ("kid", "src_ip", "credential_id", "actor_id", "employee_id")
EXTRA_ENTITY_KEYS = ("asn", "country")

#: Tolerance for clock skew between the gateway, the authorization server and the HR system.
SKEW = dt.timedelta(minutes=5)
#: The same in microseconds, for comparisons over every request (on integers: adding an
#: interval to a zoned timestamp goes through the calendar, per row).
SKEW_MICROS = int(SKEW.total_seconds()) * 1_000_000

UTC = dt.timezone.utc


def at_least(a: str, b: str) -> str:
    """The more severe of two severities."""
    return a if SEVERITY_RANK[a] >= SEVERITY_RANK[b] else b


def stable_id(prefix: str, *parts: Any) -> str:
    """A short deterministic id: the same inputs give the same id on every run and engine."""
    text = "\x1f".join(str(p) for p in parts)
    return f"{prefix}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


@dataclass
class Context:
    """What a rule may look at: the engine, the run's data-time now, and the days to compute.

    ``since`` is midnight UTC of the first day being (re)computed; None for every day.
    ``pending`` is the span of data time (start excluded, end included) whose requests cannot
    be judged against the issuance ledger yet: access may arrive before the issuance rows of
    the same minutes, and a token whose issuance has not arrived must not look unissued (None:
    judge everything up to now; see run.issuance_pending).
    ``cache`` keeps per-day intermediate results between runs of a workspace (daycache.py).
    """

    engine: Any
    now: dt.datetime
    since: dt.datetime | None = None
    config: dict[str, Any] = field(default_factory=dict)
    available: frozenset[str] = frozenset()
    first_day: int | None = None  # the first day of access data in the lake (warm-up of baselines)
    pending: tuple[dt.datetime, dt.datetime] | None = None
    cache: Any = None
    recent: tuple[int, Any] | None = None  # (first day, table) of access rows copied for the run

    def warmed_up(self, day: ibis.Expr, days: int) -> ibis.Expr:
        """True where a baseline of ``days`` days of history exists before ``day``."""
        return day >= (self.first_day if self.first_day is not None else 0) + days

    def table(self, dataset: str) -> ibis.Table:
        return self.engine.table(dataset)

    def has(self, dataset: str) -> bool:
        return dataset in self.available

    def setting(self, name: str, default: Any) -> Any:
        return self.config.get(name, default)

    def lit_time(self, value: dt.datetime) -> ibis.Expr:
        return lit_time(value)

    @property
    def since_day(self) -> int | None:
        return None if self.since is None else day_number(self.since)

    def events(self, dataset: str = "access", lookback_days: int = 0) -> ibis.Table:
        """The dataset's rows from ``since - lookback_days`` up to now (all of them without since)."""
        if self.since is None:
            return self.rows_from(dataset, None)
        return self.rows_from(dataset, self.since - dt.timedelta(days=lookback_days))

    def rows_from(self, dataset: str, start: dt.datetime | None) -> ibis.Table:
        """The dataset's rows from ``start`` (None: all) up to now; the run's copy of recent
        access rows serves them when it holds them all."""
        if dataset == "access" and self.recent is not None and start is not None \
                and start >= day_start(self.recent[0]):
            t = self.recent[1]
        else:
            t = self.table(dataset)
        t = t.filter(t.time <= self.lit_time(self.now))
        if start is not None:
            t = t.filter(t.time >= self.lit_time(start))
        return t

    def settled(self, t: ibis.Table) -> ibis.Table:
        """Requests the issuance ledger can already speak for (not in the pending span)."""
        if self.pending is None:
            return t
        start, end = self.pending
        return t.filter((t.time <= self.lit_time(start)) | (t.time > self.lit_time(end)))

    def in_window(self, t: ibis.Table) -> ibis.Table:
        """Rows of the days being computed (drops the lookback part)."""
        if self.since is None:
            return t
        return t.filter(t.time >= self.lit_time(self.since))


def lit_time(value: dt.datetime) -> ibis.Expr:
    return ibis.literal(value.astimezone(UTC))


def day_number(value: dt.datetime) -> int:
    """Days since 1970-01-01 (UTC): the integer form of a finding's window."""
    return (value.astimezone(UTC) - EPOCH).days


def day_window(number: int) -> str:
    return (EPOCH + dt.timedelta(days=int(number))).date().isoformat()


def day_start(number: int) -> dt.datetime:
    return EPOCH + dt.timedelta(days=int(number))


def day_expr(time: ibis.Expr) -> ibis.Expr:
    """The UTC day number of a timestamp column, computed by the engine."""
    return day_number_expr(time)


def account_key(t: ibis.Table) -> ibis.Expr:
    """The customer account a request touched; for a customer actor it defaults to the actor."""
    own = ibis.ifelse(t.actor_type == "customer", t.actor_id_key, ibis.null("int64"))
    return ibis.coalesce(t.account_id_key, own)


def successful(t: ibis.Table) -> ibis.Table:
    """Requests the edge answered (2xx/3xx): data actually left. Refused attempts are not access."""
    return t.filter(t.status < 400)


def keys_table(flagged: list[dict[str, Any]], columns: tuple[str, ...], schema: Any) -> pa.Table:
    """An Arrow table of group keys, typed like the rows they select."""
    import pyarrow as pa

    arrays = {}
    for name in columns:
        kind = schema[name].to_pyarrow()
        arrays[name] = pa.array([f[name] for f in flagged], type=kind)
    return pa.table(arrays)


class Rule:
    """Base class of every detection. Subclasses set the class attributes and ``rows`` (event
    rules) or ``query`` (posture rules).

    Event rules: ``rows(ctx)`` gives the request-level access rows a finding is made of, with a
    ``day`` column and the ``group_by`` columns; ``query(ctx)`` aggregates them to one row per
    (day, group) and, for threshold rules, keeps only the groups that cross it. A finding's
    evidence is its group's rows on its day.
    """

    id: ClassVar[str] = ""
    title: ClassVar[str] = ""
    severity: ClassVar[str] = "medium"  # the default; ``severity_of`` may raise or lower it
    attack: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    false_positives: ClassVar[tuple[str, ...]] = ()
    requires: ClassVar[tuple[str, ...]] = ("access",)
    optional: ClassVar[tuple[str, ...]] = ()  # datasets used when present
    kind: ClassVar[str] = "event"  # "event" (per day) or "posture" (state at now)
    lookback_days: ClassVar[int] = 0  # history an event rule reads before the days it computes
    #: Columns (besides ``day``) that identify a finding; their values are its entities.
    group_by: ClassVar[tuple[str, ...]] = ()
    #: finding entity key -> group column holding it.
    entity_columns: ClassVar[dict[str, str]] = {}
    #: finding entity key -> evidence column listed (its ``top_n`` most frequent values).
    top_entities: ClassVar[dict[str, str]] = {}
    top_n: ClassVar[int] = 20
    #: query columns copied into the finding's ``evidence`` object.
    counts: ClassVar[tuple[str, ...]] = ("requests", "accounts")
    #: How exactly ``rows`` isolates malicious requests (0: not malicious, e.g. a ledger gap).
    #: An incident's requests come from its findings of the highest rank, so a provenance
    #: rule's exact rows win over a behavioural rule's approximation.
    evidence_rank: ClassVar[int] = 1
    #: True when ``rows`` are few (each one is evidence, e.g. unissued tokens): the runner
    #: fetches them once and aggregates and counts entities from that copy.
    materialize: ClassVar[bool] = False
    #: For materialized rules: request columns ``extra_counts`` reads besides the ones the
    #: runner always fetches (time, day, actor_type, record_count, asn, the ``*_key`` columns,
    #: and the group and entity columns).
    counted_columns: ClassVar[tuple[str, ...]] = ()
    #: False when ``query`` builds findings from something other than request rows (a ledger
    #: gap): the runner then lists no top entities and scope takes no evidence rows from it.
    has_rows: ClassVar[bool] = True
    #: Raised when the rule's logic changes: the detect state's fingerprint holds every rule's
    #: id and version, and a changed fingerprint makes the next run recompute every day.
    version: ClassVar[int] = 1
    #: The ``detect:`` keys of custodes.yaml this rule reads with ``ctx.setting``, name -> type
    #: (``custodes.config.types``): any other key there is an error, so a misspelt threshold
    #: never silently leaves the default in force.
    parameters: ClassVar[dict[str, Any]] = {}

    # Event rules ----------------------------------------------------------------------------
    def rows(self, ctx: Context) -> ibis.Table:
        raise NotImplementedError

    def query(self, ctx: Context) -> ibis.Table:
        return self.aggregate(ctx.in_window(self.rows(ctx)))

    def aggregate(self, rows: ibis.Table) -> ibis.Table:
        return rows.group_by(["day", *self.group_by]).aggregate(
            first_seen=rows.time.min(), last_seen=rows.time.max(), requests=rows.count(),
            accounts=account_key(rows).nunique(), **self.extra_counts(rows),
        )

    def extra_counts(self, rows: ibis.Table) -> dict[str, Any]:
        return {}

    def judge(self, ctx: Context, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A last look at the aggregated rows (peer comparisons); the default keeps them all."""
        return found

    def evidence_rows(self, ctx: Context, flagged: list[dict[str, Any]]) -> ibis.Table:
        """The rows of the given findings' groups on their days (``flagged``: day + group values)."""
        rows = self.rows(ctx)
        keys = ibis.memtable(keys_table(flagged, ("day", *self.group_by), rows.schema()))
        return rows.semi_join(keys, ["day", *self.group_by])

    def scope_rows(self, ctx: Context, flagged: list[dict[str, Any]]) -> ibis.Table:
        """The findings' malicious requests for scope: their evidence rows, judged again with
        everything known now (a rule whose verdict must ignore later data to stay incremental,
        such as token.unissued, drops here what later data explains). Default: the evidence."""
        return self.evidence_rows(ctx, flagged)

    # Judgement of one aggregated row (a few per run: plain Python is fine) -------------------
    def severity_of(self, row: dict[str, Any]) -> str:
        return self.severity

    def title_of(self, row: dict[str, Any]) -> str:
        return self.title

    # Helpers --------------------------------------------------------------------------------
    @staticmethod
    def with_day(t: ibis.Table) -> ibis.Table:
        return t.mutate(day=day_expr(t.time))

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {
            "id": cls.id, "title": cls.title, "severity": cls.severity, "attack": list(cls.attack),
            "description": cls.description, "false_positives": list(cls.false_positives),
            "requires": list(cls.requires), "kind": cls.kind,
        }
