"""token.claims_mismatch: an issued jti presented with other claims than the ones issued."""

from __future__ import annotations

import ibis

from custodes.detect.rule import SKEW_MICROS, Rule, day_expr
from custodes.detect.rules._tokens import CountsTokens, token_requests
from custodes.detect.timecols import unix_micros
from custodes.text import plural


class ClaimsMismatch(CountsTokens, Rule):
    id = "token.claims_mismatch"
    title = "Token claims contradict their issuance"
    severity = "high"
    attack = ("T1606", "T1550")
    description = (
        "A token whose jti is in the issuance ledger but whose subject, signing key, issue "
        "time or expiry differs from what was issued: someone minted a token reusing a real "
        "jti (a replayed jti, or a stolen token re-signed to live longer).")
    false_positives = ("Clock skew beyond five minutes between the gateway and the authorization server.",)
    requires = ("access", "issuance")
    group_by = ("kid",)
    entity_columns = {"kid": "kid"}
    top_entities = {"src_ip": "src_ip", "actor_id": "actor_id"}
    counts = ("requests", "accounts", "tokens")
    materialize = True
    evidence_rank = 3

    def rows(self, ctx):
        a = token_requests(ctx)
        i = ctx.table("issuance").select(
            token_id_key="token_id_key", issued_subject_key="subject_key", issued_kid="kid",
            issued_iat="iat", issued_exp="exp")
        j = a.inner_join(i, a.credential_id_key == i.token_id_key)

        def off(claim, issued):  # beyond clock skew; an absent claim is not a contradiction
            return ibis.coalesce((unix_micros(claim) - unix_micros(issued)).abs(), ibis.literal(0)) > SKEW_MICROS

        bad = ((j.actor_id_key != j.issued_subject_key)
               | (j.token_kid.fill_null("") != j.issued_kid)
               | off(j.token_iat, j.issued_iat) | off(j.token_exp, j.issued_exp))
        j = j.filter(bad)
        return j.mutate(day=day_expr(j.time), kid=j.token_kid.fill_null("(none)")).drop(
            "token_id_key", "issued_subject_key", "issued_kid", "issued_iat", "issued_exp")

    def severity_of(self, row):
        return "critical" if max(row["tokens"], row["accounts"]) >= 100 else "high"

    def title_of(self, row):
        return (f"{plural(row['tokens'], 'token')} presented with claims that contradict their issuance "
                f"(kid {row['kid']})")
