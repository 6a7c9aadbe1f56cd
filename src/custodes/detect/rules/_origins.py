"""Shared by the origin rules: requests reaching an account from an ASN new to that account.

The work is done on distinct (account, ASN, day) triples, far fewer than requests: whether a
pair is new comes from a window over the triples; only the requests of new pairs are joined
back and checked against the issuance ledger's logins.
"""

from __future__ import annotations

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from custodes.detect.daily import cached_days, store_days
from custodes.detect.rule import SKEW, Context, account_key, day_expr, day_start, successful
from custodes.detect.shared import RunCache

#: An (account, ASN) pair unseen for this many days is new again.
NOVELTY_DAYS = 28


def customer_requests(ctx: Context, extra_lookback: int = 0, from_day: int | None = None) -> ibis.Table:
    """Successful customer requests with an ASN, with ``day`` and ``acct``: of the days from
    ``from_day`` when given, else from ``since`` less NOVELTY_DAYS and ``extra_lookback``."""
    if from_day is None:
        a = ctx.events("access", NOVELTY_DAYS + extra_lookback)
    else:
        a = ctx.rows_from("access", day_start(from_day))
    a = successful(a)
    a = a.filter((a.actor_type == "customer") & a.asn.notnull())
    a = a.mutate(day=day_expr(a.time), acct=account_key(a))
    return a.filter(a.acct.notnull())


def triples(pairs: ibis.Table) -> ibis.Table:
    """Distinct (acct, asn, day) triples (``pairs``) with ``is_new``: the pair unseen in the
    previous NOVELTY_DAYS while the account itself was seen (a known account, reached from
    somewhere new); and ``returning``: the pair seen in the previous NOVELTY_DAYS (an account
    coming back to a network it uses). Everything here reads the triples, never the requests
    again."""
    pairs = pairs.mutate(
        prev_pair=pairs.day.lag().over(ibis.window(group_by=[pairs.acct, pairs.asn], order_by=pairs.day)))
    # prev_any: the latest day before this one the account was active at all (any ASN)
    days = pairs.select("acct", "day").distinct()
    days = days.mutate(prev_any=days.day.lag().over(ibis.window(group_by=days.acct, order_by=days.day)))
    pairs = pairs.inner_join(days, ["acct", "day"])
    returning = pairs.prev_pair.notnull() & (pairs.prev_pair >= pairs.day - NOVELTY_DAYS)
    is_new = (~returning & pairs.prev_any.notnull() & (pairs.prev_any >= pairs.day - NOVELTY_DAYS))
    return pairs.select("acct", "asn", "day", "n", "first_seen", "last_seen", is_new=is_new,
                        returning=returning)


#: account.new_origin and source.low_and_slow share one computation of the new-origin requests
#: and the per-(day, ASN) totals per run.
SHARED_SPAN = 14  # the longest span summed over by a rule using these (low_and_slow)
_SHARED = RunCache(("access", "issuance"), margin_days=SHARED_SPAN)


def shared_origin_tables(ctx: Context, needed_from: int | None = None) -> tuple[ibis.Table, ibis.Table, ibis.Table]:
    """(requests of new (acct, asn, day) pairs with no login from there, per-(day, asn) totals
    of accounts, the new pairs themselves) for days from ``since - SHARED_SPAN``, computed once
    per engine and window and served registered. The requests are few (first visits from a
    network), so both rules, their entity counts and their evidence read one small copy instead
    of joining the lake four times."""
    return _SHARED.get(ctx, lambda: _build_origin_tables(ctx), needed_from)


def new_pairs(ctx: Context) -> ibis.Table:
    """(acct, asn, day) of accounts reached from a network new to them (see :func:`triples`)."""
    return shared_origin_tables(ctx)[2]


def _build_origin_tables(ctx: Context) -> tuple[ibis.Table, ibis.Table, ibis.Table]:
    t = ctx.engine.register("detect_origin_triples", _flagged_triples(ctx))
    new = t.filter(t.is_new).select("acct", "asn", "day")
    # triples are distinct: a (day, asn)'s row count is its number of distinct accounts
    totals = t.group_by(["day", "asn"]).aggregate(
        all_accounts=t.count(), returning_accounts=t.returning.cast("int64").sum(),
        requests=t.n.sum(), first_seen=t.first_seen.min(), last_seen=t.last_seen.max())
    new = ctx.engine.register("detect_new_pairs", ctx.engine.to_arrow(new))
    return (ctx.engine.register("detect_new_origin_rows", _new_origin_rows(ctx, new)),
            ctx.engine.register("detect_origin_totals", ctx.engine.to_arrow(totals)), new)


#: Columns of a triple as counted from the requests, before novelty is known.
TRIPLE_COLUMNS = ("acct", "asn", "day", "n", "first_seen", "last_seen")


def _flagged_triples(ctx: Context) -> pa.Table:
    """The (acct, asn, day) triples of the days from since - SHARED_SPAN (every day without
    since), with ``is_new`` and ``returning`` (see :func:`triples`).

    One pass over the requests gives their distinct triples, far fewer, which feed novelty and
    totals; each carries its requests and first/last time, so the per-(day, ASN) totals need
    no second pass either (source.many_accounts reads them). A triple's flags depend on the
    NOVELTY_DAYS before its day, so the day cache keeps them flagged: an hourly run counts the
    triples of the days since the last run from the lake and flags them against the cached
    days of the same accounts. The cache keeps NOVELTY_DAYS + SHARED_SPAN days, so that the
    next run finds everything it needs there."""
    since = ctx.since_day
    if since is None:
        flagged = _flag(ctx, _lake_triples(ctx, None), None, None)
        store_days(ctx, "origin_triples", flagged, None)
        return flagged
    cached, fresh_from = cached_days(ctx, "origin_triples", since - NOVELTY_DAYS - SHARED_SPAN)
    if cached is not None and fresh_from - NOVELTY_DAYS >= since - NOVELTY_DAYS - SHARED_SPAN:
        history = cached.filter(pc.greater_equal(cached["day"], fresh_from - NOVELTY_DAYS))
        flagged = _flag(ctx, _lake_triples(ctx, fresh_from), history, fresh_from)
    else:  # too little cached: the history comes from the lake too
        flagged = _flag(ctx, _lake_triples(ctx, fresh_from - NOVELTY_DAYS), None, fresh_from)
    store_days(ctx, "origin_triples", flagged, fresh_from)
    out = flagged if cached is None else pa.concat_tables([cached, flagged.cast(cached.schema)])
    return out.filter(pc.greater_equal(out["day"], since - SHARED_SPAN))


def _lake_triples(ctx: Context, from_day: int | None) -> pa.Table:
    a = customer_requests(ctx, from_day=from_day)
    return ctx.engine.to_arrow(a.group_by(["acct", "asn", "day"]).aggregate(
        n=a.count(), first_seen=a.time.min(), last_seen=a.time.max()))


def _flag(ctx: Context, counted: pa.Table, history: pa.Table | None, from_day: int | None) -> pa.Table:
    """``counted`` triples of the days from ``from_day``, flagged by a window over them and
    the ``history`` (flagged triples of earlier days) of the same accounts."""
    t = ctx.engine.register("detect_counted_triples", counted)
    if history is not None:
        h = ctx.engine.register("detect_triples_history", history.select(list(TRIPLE_COLUMNS)))
        t = h.semi_join(t.select("acct").distinct(), "acct").union(t)
    t = triples(t)
    if from_day is not None:
        t = t.filter(t.day >= from_day)
    return ctx.engine.to_arrow(t)


def _new_origin_rows(ctx: Context, new: ibis.Table) -> pa.Table:
    """The requests of new pairs without a login from there (ORIGIN_COLUMNS) of the days from
    since - SHARED_SPAN: earlier days from the day cache, the rest from the lake."""
    since = ctx.since_day
    cached, fresh_from = cached_days(ctx, "origin_rows", None if since is None else since - SHARED_SPAN)
    a = customer_requests(ctx, from_day=fresh_from)
    if fresh_from is not None:
        new = new.filter(new.day >= fresh_from)
    # The requests of new pairs are few: fetched first, then checked against their own
    # subjects' logins (instead of hashing the whole ledger for the anti-join).
    rows = a.semi_join(new, ["acct", "asn", "day"]).select(*ORIGIN_COLUMNS)
    fresh = ctx.engine.to_arrow(rows)
    if ctx.has("issuance"):
        rows = ctx.engine.register("detect_new_pair_requests", fresh)
        i = ctx.table("issuance")
        mine = i.filter(i.subject_key.isin(rows.select(k="actor_id_key").distinct().k)).select(
            "subject_key", "src_ip_key", "time")
        mine = ctx.engine.register("detect_new_pair_logins", ctx.engine.to_arrow(mine))
        fresh = ctx.engine.to_arrow(_unless_logged_in(ctx.settled(rows), mine))
    store_days(ctx, "origin_rows", fresh, fresh_from)
    return fresh if cached is None else pa.concat_tables([cached, fresh.cast(cached.schema)])


#: What the origin rules, their counts and their entities read of a request: detection fetches
#: only these; scope reads the whole requests again (FromNewOrigins.scope_rows).
ORIGIN_COLUMNS = ("time", "day", "acct", "asn", "actor_type", "actor_id_key", "account_id_key",
                  "src_ip_key", "src_ip", "geo_country", "token_kid")


def _of_new_pairs(ctx: Context, a: ibis.Table, pairs: ibis.Table) -> ibis.Table:
    """Requests of ``a`` whose (acct, asn, day) is in ``pairs``, without a login from there
    (not while they wait for the ledger: a login may still be on its way)."""
    rows = a.semi_join(pairs, ["acct", "asn", "day"])
    if ctx.has("issuance"):
        rows = _unless_logged_in(ctx.settled(rows), ctx.table("issuance"))
    return rows


class FromNewOrigins:
    """Mixin for rules over new-origin requests: scope gets whole requests, read again from the
    lake for the (account, ASN, day) triples behind the findings (every request of a new
    triple is a new-origin request; the login check is per request, so it is applied again)."""

    def scope_rows(self, ctx: Context, flagged: list[dict]) -> ibis.Table:
        narrow = self.evidence_rows(ctx, flagged)
        triples_ = narrow.select("acct", "asn", "day").distinct()
        lookback = max(0, self.lookback_days - NOVELTY_DAYS)
        return _of_new_pairs(ctx, customer_requests(ctx, lookback), triples_)


def new_origin_requests(ctx: Context, extra_lookback: int = 0, since_day: int | None = None) -> ibis.Table:
    """Requests of new (account, ASN) pairs on days from ``since_day`` (default: ctx's), with no
    token issued to that account at that address by then (when issuance exists)."""
    first = ctx.since_day if since_day is None else since_day
    rows = shared_origin_tables(ctx, first)[0]
    return rows if first is None else rows.filter(rows.day >= first)


def origin_totals(ctx: Context, extra_lookback: int = 0, since_day: int | None = None) -> ibis.Table:
    """Per (day, asn): all distinct accounts reached and those returning to it (the usual
    traffic new visits are weighed against), with the requests and first/last time of
    successful customer requests."""
    first = ctx.since_day if since_day is None else since_day
    totals = shared_origin_tables(ctx, first)[1]
    return totals if first is None else totals.filter(totals.day >= first)


def _unless_logged_in(rows: ibis.Table, i: ibis.Table) -> ibis.Table:
    """Drop requests whose subject had been issued a token from that address (a login there)."""
    logins = i.filter(i.subject_key.notnull() & i.src_ip_key.notnull())
    return rows.anti_join(logins, [rows.actor_id_key == logins.subject_key,
                                   rows.src_ip_key == logins.src_ip_key,
                                   logins.time <= rows.time + SKEW])
