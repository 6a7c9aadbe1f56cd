"""token.retired_key: tokens accepted although their signing key was retired."""

from __future__ import annotations

from custodes.detect.rule import SKEW, Rule, day_expr
from custodes.detect.rules._tokens import CountsTokens, token_requests
from custodes.text import plural


class RetiredKey(CountsTokens, Rule):
    id = "token.retired_key"
    title = "Tokens signed by a retired key"
    severity = "high"
    attack = ("T1606", "T1552.004")
    description = (
        "Successful requests with a token signed by a key whose retirement time has passed "
        "(beyond clock skew). After retirement no token it signed may be accepted: either the "
        "gateway still trusts the key, or someone holds the key.")
    false_positives = ("A retirement recorded before the gateway's key set was actually updated.",)
    requires = ("access", "keys")
    group_by = ("kid",)
    entity_columns = {"kid": "kid"}
    top_entities = {"src_ip": "src_ip"}
    counts = ("requests", "accounts", "tokens")
    materialize = True
    evidence_rank = 2

    def rows(self, ctx):
        a = token_requests(ctx)
        k = ctx.table("keys")
        k = k.filter(k.retired_at.notnull() & (k.retired_at <= ctx.lit_time(ctx.now)))
        k = k.select(kid="kid", retired_at="retired_at")
        j = a.inner_join(k, a.token_kid == k.kid)
        j = j.filter(j.time > j.retired_at + SKEW)
        return j.mutate(day=day_expr(j.time)).drop("retired_at")

    def severity_of(self, row):
        return "critical" if row["accounts"] >= 100 else "high"

    def title_of(self, row):
        return f"{plural(row['requests'], 'request')} accepted with tokens signed by retired key {row['kid']}"
