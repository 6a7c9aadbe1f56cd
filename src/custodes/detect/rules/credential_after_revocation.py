"""credential.after_revocation: a revoked credential still accepted."""

from __future__ import annotations

from custodes.detect.rule import SKEW, Rule, day_expr, successful
from custodes.text import plural


class AfterRevocation(Rule):
    id = "credential.after_revocation"
    title = "Credential used after revocation"
    severity = "high"
    attack = ("T1078",)
    description = (
        "Successful requests made with a credential after its revocation time (beyond clock "
        "skew): the revocation never reached the edge, or the edge ignores it. Refused "
        "attempts (status 4xx/5xx) are not counted.")
    false_positives = ("A revocation recorded before it was pushed to the gateway (a short window).",)
    requires = ("access", "credentials")
    group_by = ("credential_id",)
    entity_columns = {"credential_id": "credential_id"}
    top_entities = {"src_ip": "src_ip", "actor_id": "actor_id"}
    counts = ("requests", "accounts")
    materialize = True
    evidence_rank = 3

    def rows(self, ctx):
        a = successful(ctx.events("access"))
        c = ctx.table("credentials")
        c = c.filter(c.revoked_at.notnull() & (c.revoked_at <= ctx.lit_time(ctx.now)))
        c = c.select(revoked_id="credential_id", revoked_at="revoked_at", owner_id="owner_id")
        x = a.filter((a.credential_type != "access_token") & a.credential_id.notnull())
        j = x.inner_join(c, x.credential_id == c.revoked_id)
        j = j.filter(j.time > j.revoked_at + SKEW)
        return j.mutate(day=day_expr(j.time)).drop("revoked_id", "revoked_at", "owner_id")

    def title_of(self, row):
        return f"Revoked credential {row['credential_id']} was accepted {plural(row['requests'], 'time')}"
