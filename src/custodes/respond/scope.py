"""The exact blast radius of an incident or an indicator (CONTRACT.md §2-3, `custodes scope`).

Which customer accounts were touched, how many records, when, and which personal-data items.
Every figure comes from one aggregating pass over the lake (to one row per account and day),
then two small aggregations of that; no per-event Python. Personal-data items are carried as a bit mask per route (from
``catalog``) and OR-ed per account, so "fields per account" is an integer aggregate, not a set of
strings, and the accounts CSV decodes only the few distinct masks.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from custodes.contract import PERSONAL_DATA_ITEMS
from custodes.detect.timecols import unix_micros
from custodes.errors import CustodesError
from custodes.respond.selector import Selector, optional_table, select_requests
from custodes.safefile import output_file
from custodes.timefmt import EPOCH, MICROS_PER_DAY, iso
from custodes.workspace import Workspace

if TYPE_CHECKING:
    from custodes.engine import Engine

#: header of ``--accounts-out`` (CONTRACT.md §3)
ACCOUNTS_CSV_HEADER = ("account_id", "first_access", "last_access", "requests", "fields")

#: at most this many personal-data items fit the per-route bit mask
MAX_ITEMS = 62


# Catalog: route -> item bit mask -------------------------------------------------------------
@dataclass(frozen=True)
class Catalog:
    items: tuple[str, ...]            # bit i stands for items[i]
    route_masks: dict[str, int]       # route -> OR of its items' bits

    @classmethod
    def load(cls, engine: Engine) -> Catalog | None:
        table = optional_table(engine, "catalog")
        if table is None:
            return None
        rows = engine.to_arrow(table.select("route", "fields")).to_pylist()
        return cls.from_rows(rows)

    @classmethod
    def from_rows(cls, rows: list[dict]) -> Catalog:
        per_route = {r["route"]: _split_items(r["fields"]) for r in rows}
        named = {i for items in per_route.values() for i in items}
        # contract items first, in contract order, then the operator's own, alphabetically
        items = tuple(i for i in PERSONAL_DATA_ITEMS if i in named) + tuple(sorted(named - set(PERSONAL_DATA_ITEMS)))
        if len(items) > MAX_ITEMS:
            raise CustodesError(f"catalog names {len(items)} personal-data items; scope handles at most {MAX_ITEMS}")
        bit = {item: 1 << n for n, item in enumerate(items)}
        masks = {route: sum(bit[i] for i in set(its)) for route, its in per_route.items()}
        return cls(items, masks)

    def mask_expr(self, route: ibis.StringValue) -> ibis.IntegerValue:
        exposing = {r: m for r, m in self.route_masks.items() if m}
        if not exposing:
            return ibis.literal(0, type="int64")
        return route.substitute(exposing, else_=0).cast("int64")

    def any_mask(self, mask: ibis.IntegerColumn, native: bool = False) -> ibis.IntegerScalar:
        """OR of ``mask`` over a group. ``native``: the engine's BIT_OR (DuckDB), one operation
        per row. Otherwise portably: per item bit, max(mask & bit) is the bit or 0, and their sum
        is the OR (Ibis compiles no BIT_OR for Spark)."""
        if not self.items:
            return ibis.literal(0, type="int64")
        if native:
            return mask.bit_or()
        terms = [(mask & ibis.literal(1 << n, type="int64")).max() for n in range(len(self.items))]
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return total

    def decode(self, mask: int) -> list[str]:
        return [item for n, item in enumerate(self.items) if mask >> n & 1]


def _split_items(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(";") if p.strip()]


# The result ---------------------------------------------------------------------------------
@dataclass
class Scope:
    selector: Selector
    since: dt.datetime | None
    until: dt.datetime | None
    accounts: int
    records: int
    requests: int
    first_access: dt.datetime
    last_access: dt.datetime
    fields: dict[str, int]
    daily: list[dict]
    notes: list[str] = field(default_factory=list)
    # kept to export per-account detail later (accounts CSV, notification list)
    rows: ibis.Table | None = field(default=None, repr=False)
    catalog: Catalog | None = field(default=None, repr=False)

    def to_json(self) -> dict:
        """CONTRACT.md §3 keys, plus the selector and window that produced them."""
        return {
            "accounts": self.accounts,
            "records": self.records,
            "requests": self.requests,
            "first_access": iso(self.first_access),
            "last_access": iso(self.last_access),
            "fields": self.fields,
            "daily": self.daily,
            "selector": self.selector.as_dict(),
            "since": iso(self.since),
            "until": iso(self.until),
        }


# Building it --------------------------------------------------------------------------------
def account_columns(t: ibis.Table) -> dict:
    """The account a request touched: access.account_id, or for a customer actor its actor_id."""
    customer = t.actor_type == "customer"
    return {
        "acct": ibis.coalesce(t.account_id_key, ibis.ifelse(customer, t.actor_id_key, ibis.null("int64"))),
        "acct_id": ibis.coalesce(t.account_id, ibis.ifelse(customer, t.actor_id, ibis.null("string"))),
    }


def windowed(rows: ibis.Table, since: dt.datetime | None, until: dt.datetime | None) -> ibis.Table:
    if since is not None:
        rows = rows.filter(rows.time >= since)
    if until is not None:
        rows = rows.filter(rows.time < until)
    return rows


def prepared(rows: ibis.Table, catalog: Catalog | None) -> ibis.Table:
    acct = account_columns(rows)["acct"]
    records = ibis.coalesce(rows.record_count.cast("int64"), ibis.ifelse(acct.notnull(), 1, 0).cast("int64"))
    mask = catalog.mask_expr(rows.route) if catalog else ibis.literal(0, type="int64")
    return rows.select(time=rows.time, acct=acct, rec=records, mask=mask)


def _any_mask(p: ibis.Table, catalog: Catalog | None, native: bool = False):
    return catalog.any_mask(p.mask, native) if catalog else ibis.literal(0, type="int64")


def duckdb_functions(engine: Engine) -> bool:
    """May scope use DuckDB's own BIT_OR and EPOCH_US? (Ibis 12 compiles neither for Spark; the
    portable forms give identical results, tested.)"""
    return getattr(engine, "name", "") == "duckdb"


def utc_day(time: ibis.TimestampValue, native: bool) -> ibis.Value:
    """The UTC day of ``time``: on DuckDB the day number since the epoch (a division), because
    casting a TIMESTAMPTZ to DATE goes through the ICU calendar, about as costly per row as
    reading the column; elsewhere the date. ``as_date`` reads either."""
    return unix_micros(time) // MICROS_PER_DAY if native else time.date()


def as_date(day) -> dt.date:
    return EPOCH.date() + dt.timedelta(days=int(day)) if isinstance(day, int) else day


def account_days(p: ibis.Table, catalog: Catalog | None, native: bool = False) -> ibis.Table:
    """The one pass over the lake: the matching requests folded, as they stream, into one row per
    (day, account). Every figure of the scope derives from this table, so the matching rows are
    never materialised, a busy key's tens of millions of requests included."""
    return p.group_by(day=utc_day(p.time, native), acct=p.acct).aggregate(
        requests=p.count(), records=p.rec.sum(), first=p.time.min(), last=p.time.max(),
        mask=_any_mask(p, catalog, native),
    )


def per_account(g: ibis.Table, catalog: Catalog | None, native: bool = False) -> ibis.Table:
    return g.group_by("acct").aggregate(
        requests=g.requests.sum(), records=g.records.sum(), first=g.first.min(), last=g.last.max(),
        mask=_any_mask(g, catalog, native),
    )


def summary_expr(g: ibis.Table, catalog: Catalog | None, native: bool = False) -> ibis.Table:
    a = per_account(g, catalog, native)
    has = a.acct.notnull()
    metrics = {
        "requests": a.requests.sum(), "records": a.records.sum(),
        "first": a.first.min(), "last": a.last.max(), "accounts": a.acct.count(),
    }
    for n, _item in enumerate(catalog.items if catalog else ()):
        bit = ibis.literal(1 << n, type="int64")
        metrics[f"item_{n}"] = ibis.ifelse(has & ((a.mask & bit) != 0), 1, 0).sum()
    return a.aggregate(**metrics)


def daily_expr(g: ibis.Table) -> ibis.Table:
    # g has one row per (day, account): a day's distinct accounts are its non-null acct rows
    return (g.group_by(date=g.day)
            .aggregate(requests=g.requests.sum(), accounts=g.acct.count())
            .order_by("date"))


def scope(engine: Engine, workspace: Workspace, selector: Selector, since: dt.datetime | None = None,
          until: dt.datetime | None = None) -> Scope:
    """The blast radius of ``selector`` within [since, until). Raises CustodesError when nothing
    matches: an empty scope is never passed off as a result."""
    if since is not None and until is not None and since >= until:
        raise CustodesError(f"empty window: --since {iso(since)} is not before --until {iso(until)}")
    base = select_requests(engine, workspace, selector)
    rows = windowed(base, since, until)
    catalog = Catalog.load(engine)
    # Scan the lake once, aggregating as it streams; the account-day table it yields (cached: a
    # temp table on DuckDB, a cached DataFrame on Spark) feeds the summary and the timeline.
    native = duckdb_functions(engine)
    with account_days(prepared(rows, catalog), catalog, native).cache() as g:
        total = engine.to_arrow(summary_expr(g, catalog, native)).to_pylist()[0]
        if not total["requests"]:
            raise CustodesError(_nothing_matched(engine, base, selector, since, until))
        daily = [{"date": as_date(r["date"]).isoformat(), "requests": int(r["requests"]), "accounts": int(r["accounts"])}
                 for r in engine.to_arrow(daily_expr(g)).to_pylist()]
    notes = [] if catalog else ["the workspace holds no catalog: personal-data fields are unknown"]
    fields = {item: int(total[f"item_{n}"]) for n, item in enumerate(catalog.items)} if catalog else {}
    return Scope(selector, since, until, accounts=int(total["accounts"]), records=int(total["records"] or 0),
                 requests=int(total["requests"]), first_access=total["first"], last_access=total["last"],
                 fields={k: v for k, v in fields.items() if v}, daily=daily, notes=notes,
                 rows=rows, catalog=catalog)


def _nothing_matched(engine: Engine, base, selector, since, until) -> str:
    if since is None and until is None:
        return f"{selector.describe()} matches no access request"
    outside = engine.to_arrow(base.aggregate(n=base.count())).column("n")[0].as_py()
    window = f"[{iso(since) or '-inf'}, {iso(until) or '+inf'})"
    if outside:
        return f"{selector.describe()} matches no access request in {window} ({outside} outside it)"
    return f"{selector.describe()} matches no access request"


# Per-account detail -------------------------------------------------------------------------
def accounts_table(engine: Engine, result: Scope) -> pa.Table:
    """One row per account: account_id, first_access, last_access, requests, fields (`;`-joined),
    ordered by account_id."""
    rows = result.rows
    cols = account_columns(rows)
    mask = result.catalog.mask_expr(rows.route) if result.catalog else ibis.literal(0, type="int64")
    p = rows.select(acct_id=cols["acct_id"], time=rows.time, mask=mask).filter(lambda t: t.acct_id.notnull())
    agg = p.group_by("acct_id").aggregate(
        first=p.time.min(), last=p.time.max(), requests=p.count(),
        mask=_any_mask(p, result.catalog, duckdb_functions(engine)),
    ).order_by("acct_id")
    table = engine.to_arrow(agg)
    return pa.table({
        "account_id": table.column("acct_id"),
        "first_access": table.column("first"),
        "last_access": table.column("last"),
        "requests": table.column("requests").cast(pa.int64()),
        "fields": _decode_masks(table.column("mask"), result.catalog),
    })


def _decode_masks(masks: pa.ChunkedArray, catalog: Catalog | None) -> pa.Array:
    """Decode only the distinct masks (a handful), then index: no per-account Python."""
    masks = masks.combine_chunks().cast(pa.int64())
    encoded = pc.dictionary_encode(masks)
    labels = [";".join(catalog.decode(m)) if catalog and m is not None else ""
              for m in encoded.dictionary.to_pylist()]
    return pc.take(pa.array(labels, pa.string()), encoded.indices)


def write_accounts_csv(engine: Engine, result: Scope, path: Path, force: bool = False) -> int:
    """Write the CONTRACT.md accounts CSV (account ids are personal data: mode 0600, written as
    :func:`custodes.safefile.output_file` does; an existing file only with ``force``). Returns rows."""
    table = accounts_table(engine, result)
    with output_file(Path(path), force=force) as fh:
        fh.write(",".join(ACCOUNTS_CSV_HEADER) + "\n")
        write_csv_rows(fh, [table.column("account_id"), iso_strings(table.column("first_access")),
                            iso_strings(table.column("last_access")), table.column("requests"), table.column("fields")])
    return table.num_rows


def iso_strings(column) -> pa.Array:
    """RFC 3339 to the second with a Z, vectorised (the form every output uses)."""
    seconds = pc.cast(column, pa.timestamp("s", tz="UTC"), safe=False)
    return pc.strftime(seconds, format="%Y-%m-%dT%H:%M:%SZ")


_NEEDS_QUOTES = r'[",\r\n]'
#: first bytes of a cell a spreadsheet would read as a formula (OWASP, CSV injection)
_FORMULA_FIRST = np.frombuffer(b"=+-@\t\r", dtype=np.uint8)


def _formula_mask(strings: pa.StringArray) -> np.ndarray:
    """Whether each value starts like a formula, from its first byte, read straight out of the
    Arrow buffers (a regex over every cell costs several times as much)."""
    buffers = strings.buffers()
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.zeros(0, np.uint8)
    if len(data) == 0:
        return np.zeros(len(strings), dtype=bool)
    offsets = np.frombuffer(buffers[1], dtype=np.int32)[strings.offset:strings.offset + len(strings) + 1]
    starts = offsets[:-1]
    nonempty = offsets[1:] > starts
    return nonempty & np.isin(data[np.minimum(starts, len(data) - 1)], _FORMULA_FIRST)


def neutralise_formulas(strings: pa.StringArray) -> pa.StringArray:
    """Prefix ``'`` to every cell that starts with ``= + - @``, a tab or a CR, so Excel,
    LibreOffice and Sheets show it as text: an account id is a token's ``sub``, which whoever
    forges tokens chooses (``=HYPERLINK("http://evil.example", "x")``). ``strings`` holds no
    nulls (the caller fills them)."""
    mask = _formula_mask(strings)
    if not mask.any():
        return strings
    return pc.if_else(pa.array(mask), pc.binary_join_element_wise("'", strings, ""), strings)


def write_csv_rows(fh, columns: list) -> None:
    """CSV rows without a Python loop per row: columns are joined in Arrow, in chunks. A value
    that needs quoting (rare in ids) sends the chunk through the csv module instead. Every cell
    passes :func:`neutralise_formulas`."""
    strings = [pc.cast(c, pa.string()).combine_chunks() if isinstance(c, pa.ChunkedArray) else pc.cast(c, pa.string())
               for c in columns]
    strings = [neutralise_formulas(pc.fill_null(c, "")) for c in strings]
    step = 1_000_000
    for start in range(0, len(strings[0]) if strings else 0, step):
        chunk = [c.slice(start, step) for c in strings]
        if any(pc.any(pc.match_substring_regex(c, _NEEDS_QUOTES)).as_py() for c in chunk):
            csv.writer(fh).writerows(zip(*(c.to_pylist() for c in chunk)))
            continue
        lines = pc.binary_join_element_wise(*chunk, ",")
        fh.write("\n".join(lines.to_pylist()) + "\n")
