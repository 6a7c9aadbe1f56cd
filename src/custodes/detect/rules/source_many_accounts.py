"""source.many_accounts: one network (ASN) touching far more customer accounts than it ever has."""

from __future__ import annotations

import ibis

from custodes.detect.daily import prior_max
from custodes.config.types import Positive
from custodes.detect.rule import Rule, day_start, keys_table, successful
from custodes.detect.rules._origins import origin_totals
from custodes.text import plural


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
    parameters = {"source_min_accounts": Positive}
    jump = 3

    def rows(self, ctx):
        a = successful(ctx.events("access", self.lookback_days))
        a = a.filter((a.actor_type == "customer") & a.asn.notnull())
        return self.with_day(a)

    def query(self, ctx):
        # Accounts, requests and first/last per (day, ASN) come from the (account, ASN, day)
        # triples the origin rules compute anyway: no pass over the requests of its own. The
        # distinct addresses, only in the title and evidence, are counted for flagged groups
        # alone (judge), so the pack never builds a hash of every address of every day.
        first = None if ctx.since_day is None else ctx.since_day - self.lookback_days
        daily = origin_totals(ctx, since_day=first).select(
            "day", "asn", accounts="all_accounts", requests="requests",
            first_seen="first_seen", last_seen="last_seen")
        j = prior_max(daily, "asn", "accounts", self.lookback_days)
        min_accounts = int(ctx.setting("source_min_accounts", self.min_accounts))
        keep = ((j.accounts >= min_accounts) & (j.accounts >= j.baseline * self.jump)
                & ctx.warmed_up(j.day, 7))
        if ctx.since_day is not None:
            keep = keep & (j.day >= ctx.since_day)
        return j.filter(keep)

    def judge(self, ctx, found):
        """Add ``sources`` (distinct addresses) to the flagged groups: one query reading only
        their days (the lake's files are per day, and row groups are pruned by time)."""
        if not found:
            return found
        days = [f["day"] for f in found]
        a = successful(ctx.rows_from("access", day_start(min(days))))
        a = a.filter((a.time < ctx.lit_time(day_start(max(days) + 1)))
                     & (a.actor_type == "customer") & a.asn.notnull())
        a = self.with_day(a)
        keys = ibis.memtable(keys_table(found, ("day", "asn"), a.schema()))
        a = a.semi_join(keys, ["day", "asn"])
        counted = ctx.engine.to_arrow(a.group_by(["day", "asn"]).aggregate(sources=a.src_ip_key.nunique()))
        sources = {(r["day"], r["asn"]): r["sources"] for r in counted.to_pylist()}
        return [{**f, "sources": sources.get((f["day"], f["asn"]), 0)} for f in found]

    def severity_of(self, row):
        ratio = row["accounts"] / max(row["baseline"], 1)
        if row["accounts"] >= 1000 and ratio >= 10:
            return "critical"
        if row["accounts"] >= 100 and ratio >= 5:
            return "high"
        return "medium"

    def title_of(self, row):
        base = f"a baseline of {row['baseline']:,}" if row["baseline"] else "no history"
        return (f"AS{row['asn']} reached {plural(row['accounts'], 'customer account')} in a day "
                f"({base}) from {plural(row['sources'], 'address')}")
