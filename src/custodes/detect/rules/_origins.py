"""Shared by the origin rules: requests reaching an account from an ASN new to that account.

The work is done on distinct (account, ASN, day) triples, far fewer than requests: whether a
pair is new comes from a window over the triples; only the requests of new pairs are joined
back and checked against the issuance ledger's logins.
"""

from __future__ import annotations

import weakref

import ibis

from custodes.detect.rule import SKEW, Context, account_key, day_expr, successful

#: An (account, ASN) pair unseen for this many days is new again.
NOVELTY_DAYS = 28


def customer_requests(ctx: Context, extra_lookback: int = 0) -> ibis.Table:
    a = successful(ctx.events("access", NOVELTY_DAYS + extra_lookback))
    a = a.filter((a.actor_type == "customer") & a.asn.notnull())
    a = a.mutate(day=day_expr(a.time), acct=account_key(a))
    return a.filter(a.acct.notnull())


def triples(a: ibis.Table) -> ibis.Table:
    """Distinct (acct, asn, day) with ``is_new``: the pair unseen in the previous NOVELTY_DAYS
    while the account itself was seen (a known account, reached from somewhere new)."""
    pairs = a.select("acct", "asn", "day").distinct()
    pairs = pairs.mutate(
        prev_pair=pairs.day.lag().over(ibis.window(group_by=[pairs.acct, pairs.asn], order_by=pairs.day)))
    # prev_any: the latest day before this one the account was active at all (any ASN)
    days = a.select("acct", "day").distinct()
    days = days.mutate(prev_any=days.day.lag().over(ibis.window(group_by=days.acct, order_by=days.day)))
    pairs = pairs.inner_join(days, ["acct", "day"])
    is_new = ((pairs.prev_pair.isnull() | (pairs.prev_pair < pairs.day - NOVELTY_DAYS))
              & pairs.prev_any.notnull() & (pairs.prev_any >= pairs.day - NOVELTY_DAYS))
    return pairs.select("acct", "asn", "day", is_new=is_new)


#: account.new_origin and source.low_and_slow share one computation of the new pairs and the
#: per-(day, ASN) totals per run: engine -> {(since, now): (new pairs, totals)}.
_SHARED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
SHARED_SPAN = 14  # the longest span summed over by a rule using these (low_and_slow)


def shared_origin_tables(ctx: Context) -> tuple[ibis.Table, ibis.Table]:
    """(new (acct, asn, day) pairs, per-(day, asn) totals of accounts) for days from
    ``since - SHARED_SPAN``, computed once per engine and window and served registered."""
    per_engine = _SHARED.setdefault(ctx.engine, {})
    key = (ctx.since, ctx.now)
    if key not in per_engine:
        a = customer_requests(ctx, SHARED_SPAN)
        t = triples(a)
        new = t.filter(t.is_new).select("acct", "asn", "day")
        if ctx.since_day is not None:
            first = ctx.since_day - SHARED_SPAN
            new = new.filter(new.day >= first)
            a = a.filter(a.day >= first)
        totals = a.group_by(["day", "asn"]).aggregate(all_accounts=a.acct.nunique())
        per_engine.clear()
        per_engine[key] = (ctx.engine.register("detect_new_pairs", ctx.engine.to_arrow(new)),
                           ctx.engine.register("detect_origin_totals", ctx.engine.to_arrow(totals)))
    return per_engine[key]


def new_origin_requests(ctx: Context, extra_lookback: int = 0, since_day: int | None = None) -> ibis.Table:
    """Requests of new (account, ASN) pairs on days from ``since_day`` (default: ctx's), with no
    token issued to that account at that address by then (when issuance exists)."""
    new, _ = shared_origin_tables(ctx)
    a = customer_requests(ctx, SHARED_SPAN)
    first = ctx.since_day if since_day is None else since_day
    if first is not None:
        new = new.filter(new.day >= first)
        a = a.filter(a.day >= first)
    rows = a.semi_join(new, ["acct", "asn", "day"])
    if ctx.has("issuance"):
        rows = _unless_logged_in(rows, ctx.table("issuance"))
    return rows


def origin_totals(ctx: Context, extra_lookback: int = 0, since_day: int | None = None) -> ibis.Table:
    """Per (day, asn): all distinct accounts reached (the denominator of the share of new ones)."""
    _, totals = shared_origin_tables(ctx)
    first = ctx.since_day if since_day is None else since_day
    return totals if first is None else totals.filter(totals.day >= first)


def _unless_logged_in(rows: ibis.Table, i: ibis.Table) -> ibis.Table:
    """Drop requests whose subject had been issued a token from that address (a login there)."""
    logins = i.filter(i.subject_key.notnull() & i.src_ip_key.notnull())
    return rows.anti_join(logins, [rows.actor_id_key == logins.subject_key,
                                   rows.src_ip_key == logins.src_ip_key,
                                   logins.time <= rows.time + SKEW])
