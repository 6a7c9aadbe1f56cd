"""account.new_origin: many accounts reached from a network none of them had used."""

from __future__ import annotations

from custodes.detect.rule import Rule
from custodes.detect.rules._origins import NOVELTY_DAYS, FromNewOrigins, new_origin_requests, origin_totals


class NewOrigin(FromNewOrigins, Rule):
    id = "account.new_origin"
    title = "Accounts reached from a network new to them, without a login from there"
    severity = "medium"
    attack = ("T1078", "T1606")
    description = (
        f"Per day and ASN, the known customer accounts reached from that ASN although none of "
        f"them had used it in the previous {NOVELTY_DAYS} days, and (when issuance exists) "
        f"without any token issued to them from that address. Travellers make a few of these; "
        f"forged or stolen tokens replayed from an attacker's servers make many, and nearly all "
        f"of that network's traffic is of this kind.")
    false_positives = ("A carrier renumbering its customers into a new ASN.",)
    requires = ("access",)
    optional = ("issuance",)
    lookback_days = NOVELTY_DAYS
    group_by = ("asn",)
    entity_columns = {"asn": "asn"}
    top_entities = {"src_ip": "src_ip", "country": "geo_country", "kid": "token_kid"}
    counts = ("requests", "accounts", "share_new")
    evidence_rank = 1
    min_accounts = 20

    def rows(self, ctx):
        return new_origin_requests(ctx)

    def query(self, ctx):
        new = new_origin_requests(ctx)
        daily = new.group_by(["day", "asn"]).aggregate(
            accounts=new.acct.nunique(), requests=new.count(), sources=new.src_ip_key.nunique(),
            first_seen=new.time.min(), last_seen=new.time.max())
        daily = daily.filter(daily.accounts >= int(ctx.setting("origin_min_accounts", self.min_accounts)))
        j = daily.inner_join(origin_totals(ctx), ["day", "asn"])
        j = j.mutate(share_new=(j.accounts * 1000 // j.all_accounts) / 1000.0)
        min_accounts = int(ctx.setting("origin_min_accounts", self.min_accounts))
        return j.filter((j.accounts >= min_accounts) & (j.share_new >= 0.5)
                        & ctx.warmed_up(j.day, 7))

    def severity_of(self, row):
        if row["accounts"] >= 1000 and row["share_new"] >= 0.9:
            return "critical"
        if row["accounts"] >= 100 and row["share_new"] >= 0.8:
            return "high"
        return "medium"

    def title_of(self, row):
        return (f"{row['accounts']} accounts reached from AS{row['asn']}, new to every one of them "
                f"({row['share_new']:.0%} of that network's accounts that day), with no login from there")
