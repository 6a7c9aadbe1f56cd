"""source.many_accounts: one network (ASN) touching far more customer accounts than it ever has."""

from __future__ import annotations

import ibis

from custodes.detect.rule import Rule, successful
from custodes.detect.rules._origins import origin_totals


class SourceManyAccounts(Rule):
    id = "source.many_accounts"
    title = "A source touches far more accounts than its baseline"
    severity = "medium"
    attack = ("T1078", "T1530")
    description = (
        "Per day and ASN, the distinct customer accounts reached by customer-token requests, "
        "against the most that ASN reached on any of the previous 14 days. A new source (no "
        "baseline) reaching many accounts, or a known one jumping several-fold, is how forged "
        "or stolen tokens look without an issuance ledger. Carrier-grade and office NAT are "
        "quiet: their large counts are their baseline. Needs 7 days of history (warm-up).")
    false_positives = ("A new mobile carrier or a CDN egress range going live.",)
    requires = ("access",)
    lookback_days = 14
    group_by = ("asn",)
    entity_columns = {"asn": "asn"}
    top_entities = {"src_ip": "src_ip", "country": "geo_country", "kid": "token_kid"}
    counts = ("requests", "accounts", "baseline", "sources")
    evidence_rank = 1
    min_accounts = 50
    jump = 3

    def rows(self, ctx):
        a = successful(ctx.events("access", self.lookback_days))
        a = a.filter((a.actor_type == "customer") & a.asn.notnull())
        return self.with_day(a)

    def query(self, ctx):
        rows = self.rows(ctx)
        daily = rows.group_by(["day", "asn"]).aggregate(
            requests=rows.count(), sources=rows.src_ip_key.nunique(),
            first_seen=rows.time.min(), last_seen=rows.time.max())
        # Distinct accounts per (day, ASN) come from the triples the origin rules count anyway.
        first = None if ctx.since_day is None else ctx.since_day - self.lookback_days
        totals = origin_totals(ctx, since_day=first)
        daily = daily.left_join(totals, ["day", "asn"]).select(
            "day", "asn", accounts=ibis._.all_accounts.fill_null(0), requests="requests",
            sources="sources", first_seen="first_seen", last_seen="last_seen")
        prev = daily.select(p_asn=daily.asn, p_day=daily.day, p_accounts=daily.accounts)
        seen = daily.inner_join(prev, [daily.asn == prev.p_asn, prev.p_day < daily.day,
                                       prev.p_day >= daily.day - self.lookback_days])
        base = seen.group_by(["day", "asn"]).aggregate(baseline=seen.p_accounts.max())
        j = daily.left_join(base, ["day", "asn"]).select(
            *daily.columns, baseline=base.baseline.fill_null(0))
        min_accounts = int(ctx.setting("source_min_accounts", self.min_accounts))
        keep = ((j.accounts >= min_accounts) & (j.accounts >= j.baseline * self.jump)
                & ctx.warmed_up(j.day, 7))
        if ctx.since_day is not None:
            keep = keep & (j.day >= ctx.since_day)
        return j.filter(keep)

    def severity_of(self, row):
        ratio = row["accounts"] / max(row["baseline"], 1)
        if row["accounts"] >= 1000 and ratio >= 10:
            return "critical"
        if row["accounts"] >= 100 and ratio >= 5:
            return "high"
        return "medium"

    def title_of(self, row):
        base = f"a baseline of {row['baseline']}" if row["baseline"] else "no history"
        return (f"AS{row['asn']} reached {row['accounts']} customer accounts in a day "
                f"({base}) from {row['sources']} addresses")
