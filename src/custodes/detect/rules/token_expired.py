"""token.expired_use: tokens accepted after their exp."""

from __future__ import annotations

from custodes.detect.rule import SKEW_MICROS, Rule, day_expr
from custodes.detect.rules._tokens import CountsTokens, token_requests
from custodes.detect.timecols import unix_micros
from custodes.text import plural


class ExpiredUse(CountsTokens, Rule):
    id = "token.expired_use"
    title = "Tokens used after expiry"
    severity = "medium"
    attack = ("T1550",)
    description = (
        "Successful requests with a token whose exp had passed (beyond clock skew): the gateway "
        "is not enforcing lifetimes, or tokens are being replayed.")
    false_positives = ("Gateways that deliberately allow a grace period longer than five minutes.",)
    requires = ("access",)
    group_by = ("kid",)
    entity_columns = {"kid": "kid"}
    top_entities = {"src_ip": "src_ip"}
    counts = ("requests", "accounts", "tokens")
    materialize = True
    evidence_rank = 2

    def rows(self, ctx):
        a = token_requests(ctx)
        a = a.filter(a.token_exp.notnull()
                     & (unix_micros(a.time) > unix_micros(a.token_exp) + SKEW_MICROS))
        return a.mutate(day=day_expr(a.time), kid=a.token_kid.fill_null("(none)"))

    def severity_of(self, row):
        return "high" if row["accounts"] >= 100 else "medium"

    def title_of(self, row):
        return f"{plural(row['tokens'], 'token')} (kid {row['kid']}) accepted after expiry"
