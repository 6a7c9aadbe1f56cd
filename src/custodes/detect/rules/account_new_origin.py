"""account.new_origin: many accounts reached from a network none of them had used."""

from __future__ import annotations

from custodes.config.types import Positive
from custodes.detect.rule import Rule
from custodes.detect.rules._origins import NOVELTY_DAYS, FromNewOrigins, new_origin_requests, origin_totals
from custodes.text import plural

#: Days whose returning accounts make a network's usual traffic.
ESTABLISHED_DAYS = 7


class NewOrigin(FromNewOrigins, Rule):
    id = "account.new_origin"
    title = "Accounts reached from a network new to them, without a login from there"
    severity = "medium"
    attack = ("T1078", "T1606")
    description = (
        f"Per day and ASN, the known customer accounts reached from that ASN although none of "
        f"them had used it in the previous {NOVELTY_DAYS} days, and (when issuance exists) "
        f"without any token issued to them from that address, weighed against the network's "
        f"usual returning accounts (the most that came back to it on any of the previous "
        f"{ESTABLISHED_DAYS} days): 20+ new accounts making half or more of the two is a "
        f"finding. Travellers make a few of these on networks their compatriots use daily; "
        f"forged or stolen tokens replayed from an attacker's servers make many, on networks "
        f"nobody comes back to. The usual traffic comes from earlier days, so a day's count is "
        f"judged the same at 10:00 as at midnight and the finding only grows.")
    false_positives = ("A carrier renumbering its customers into a new ASN.",)
    requires = ("access",)
    optional = ("issuance",)
    lookback_days = NOVELTY_DAYS
    group_by = ("asn",)
    entity_columns = {"asn": "asn"}
    top_entities = {"src_ip": "src_ip", "country": "geo_country", "kid": "token_kid"}
    counts = ("requests", "accounts", "established", "share_new")
    evidence_rank = 1
    min_accounts = 20
    parameters = {"origin_min_accounts": Positive}

    def rows(self, ctx):
        return new_origin_requests(ctx)

    def query(self, ctx):
        new = new_origin_requests(ctx)
        daily = new.group_by(["day", "asn"]).aggregate(
            accounts=new.acct.nunique(), requests=new.count(), sources=new.src_ip_key.nunique(),
            first_seen=new.time.min(), last_seen=new.time.max())
        min_accounts = int(ctx.setting("origin_min_accounts", self.min_accounts))
        daily = daily.filter((daily.accounts >= min_accounts) & ctx.warmed_up(daily.day, 7))
        first = None if ctx.since_day is None else ctx.since_day - ESTABLISHED_DAYS
        totals = origin_totals(ctx, since_day=first)
        prev = totals.select(p_asn="asn", p_day="day", p_returning="returning_accounts")
        seen = daily.inner_join(prev, [daily.asn == prev.p_asn, prev.p_day < daily.day,
                                       prev.p_day >= daily.day - ESTABLISHED_DAYS])
        usual = seen.group_by(["day", "asn"]).aggregate(established=seen.p_returning.max())
        j = daily.left_join(usual, ["day", "asn"]).select(
            *daily.columns, established=usual.established.fill_null(0))
        j = j.mutate(share_new=(j.accounts * 1000 // (j.accounts + j.established)) / 1000.0)
        return j.filter(j.share_new >= 0.5)

    def severity_of(self, row):
        if row["accounts"] >= 1000 and row["share_new"] >= 0.9:
            return "critical"
        if row["accounts"] >= 100 and row["share_new"] >= 0.8:
            return "high"
        return "medium"

    def title_of(self, row):
        return (f"{plural(row['accounts'], 'account')} reached from AS{row['asn']}, new to every one of them, "
                f"with no login from there (the network's usual returning accounts: {row['established']:,})")
