"""source.low_and_slow: a network slowly accumulating accounts that are new to it, over weeks."""

from __future__ import annotations

import dataclasses
import datetime as dt

import ibis

from custodes.config.types import Positive
from custodes.detect.rule import Rule
from custodes.detect.rules._origins import NOVELTY_DAYS, FromNewOrigins, new_origin_requests, origin_totals
from custodes.text import percent, plural

SPAN = 14  # days summed


class LowAndSlow(FromNewOrigins, Rule):
    id = "source.low_and_slow"
    title = "A network slowly gathers accounts new to it"
    severity = "medium"
    attack = ("T1078", "T1606", "T1530")
    description = (
        f"Per day and ASN, the customer accounts reached over the last {SPAN} days for which that "
        f"ASN was new (see account.new_origin), summed, against the accounts that returned to "
        f"it on the earlier days of the span: an attacker who keeps each day under the daily "
        f"thresholds still accumulates hundreds of accounts, mostly first visits, on several "
        f"days. Travellers are quiet: after their first day the network is no longer new to "
        f"them, so their returns outweigh their first visits. The day's own returns are not "
        f"counted, so a day's evidence is judged the same at 10:00 as at midnight.")
    false_positives = ("A growing carrier or VPN provider newly used by many customers.",)
    requires = ("access",)
    optional = ("issuance",)
    lookback_days = NOVELTY_DAYS + SPAN
    group_by = ("asn",)
    entity_columns = {"asn": "asn"}
    top_entities = {"src_ip": "src_ip", "country": "geo_country", "kid": "token_kid"}
    counts = ("requests", "accounts", "active_days", "share_new")
    evidence_rank = 1
    min_accounts = 100
    parameters = {"slow_min_accounts": Positive}

    def rows(self, ctx):
        return new_origin_requests(ctx, extra_lookback=SPAN)

    def query(self, ctx):
        # the SPAN days before the first day computed feed its sums
        first = None if ctx.since_day is None else ctx.since_day - SPAN
        new = new_origin_requests(ctx, extra_lookback=SPAN, since_day=first)
        daily_new = new.group_by(["day", "asn"]).aggregate(
            n_accounts=new.acct.nunique(), n_requests=new.count(),
            n_first=new.time.min(), n_last=new.time.max())
        daily_all = origin_totals(ctx, extra_lookback=SPAN, since_day=first).rename(n_ret="returning_accounts")
        daily = daily_all.left_join(daily_new, ["day", "asn"]).select(
            "day", "asn", "n_ret", n_accounts=ibis._.n_accounts.fill_null(0),
            n_requests=ibis._.n_requests.fill_null(0), n_first="n_first", n_last="n_last")
        today = daily.filter(daily.n_accounts > 0).select(t_day="day", t_asn="asn")
        span = today.inner_join(daily, [today.t_asn == daily.asn, daily.day <= today.t_day,
                                        daily.day > today.t_day - SPAN])
        agg = span.group_by(day=span.t_day, asn=span.t_asn).aggregate(
            accounts=span.n_accounts.sum(), returning=ibis.ifelse(span.day < span.t_day, span.n_ret, 0).sum(),
            requests=span.n_requests.sum(), active_days=(span.n_accounts > 0).cast("int64").sum(),
            first_seen=span.n_first.min(), last_seen=span.n_last.max())
        agg = agg.mutate(share_new=(agg.accounts * 1000 // (agg.accounts + agg.returning)) / 1000.0)
        min_accounts = int(ctx.setting("slow_min_accounts", self.min_accounts))
        keep = ((agg.accounts >= min_accounts) & (agg.share_new >= 0.75) & (agg.active_days >= 3)
                & ctx.warmed_up(agg.day, 7))
        if ctx.since_day is not None:
            keep = keep & (agg.day >= ctx.since_day)
        return agg.filter(keep)

    def evidence_rows(self, ctx, flagged):
        # A finding for day d stands on the new visits of the SPAN days ending with d.
        spread = [dict(f, day=f["day"] - back) for f in flagged for back in range(SPAN)]
        if ctx.since is not None:
            ctx = dataclasses.replace(ctx, since=ctx.since - dt.timedelta(days=SPAN))
        return super().evidence_rows(ctx, spread).distinct()

    def severity_of(self, row):
        # Weeks of first visits from one network, day after day: a campaign, not a trip.
        return "high" if row["accounts"] >= 150 and row["active_days"] >= 5 else "medium"

    def title_of(self, row):
        return (f"AS{row['asn']} reached {plural(row['accounts'], 'account')} new to it over {SPAN} days "
                f"({plural(row['active_days'], 'active day')}, {percent(row['share_new'])} first visits)")
