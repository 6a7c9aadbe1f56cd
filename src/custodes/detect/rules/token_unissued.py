"""token.unissued: tokens the authorization server never issued, used from where their subject
never logged in (the signing-key forgery of DESIGN.md)."""

from __future__ import annotations

from custodes.detect.rule import Rule
from custodes.detect.rules._tokens import split_unissued


class UnissuedTokens(Rule):
    id = "token.unissued"
    title = "Tokens nobody issued"
    severity = "high"
    attack = ("T1606", "T1078", "T1552.004")
    description = (
        "Requests carrying a validly signed access token whose jti is absent from the issuance "
        "ledger, where nothing ties the token to its subject (no known session, and the subject "
        "was never issued a token from that device or address). A stolen signing key forging "
        "tokens looks exactly like this: each forged token reads as a customer reading their "
        "own data.")
    false_positives = (
        "A partial issuance export (rows missing for a whole period): tokens from new devices "
        "look unexplained. Check the issuance.ledger_gap finding and the ledger's completeness.",)
    requires = ("access", "issuance")
    group_by = ("kid",)
    entity_columns = {"kid": "kid"}
    top_entities = {"src_ip": "src_ip", "country": "geo_country", "asn": "asn"}
    counts = ("requests", "accounts", "tokens", "sources")
    materialize = True
    evidence_rank = 3

    def rows(self, ctx):
        forged_looking, _ = split_unissued(ctx)
        return forged_looking

    def extra_counts(self, rows):
        return {"tokens": rows.credential_id_key.nunique(), "sources": rows.src_ip_key.nunique()}

    def severity_of(self, row):
        # One unexplained token is most often a lost ledger row nobody could tie to a device;
        # several in a day, none tied to their subject, are not.
        volume = max(row["tokens"], row["accounts"])
        if volume >= 100:
            return "critical"
        if volume >= 5:
            return "high"
        return "medium" if volume >= 2 else "low"

    def title_of(self, row):
        return (f"{row['tokens']} tokens signed with kid {row['kid']} that the authorization server "
                f"never issued, reading {row['accounts']} accounts from {row['sources']} addresses")
