"""token.unissued: tokens the authorization server never issued, used from where their subject
never logged in (the signing-key forgery of DESIGN.md)."""

from __future__ import annotations

import ibis

from custodes.detect.rule import Rule, keys_table, stable_id
from custodes.detect.rules._tokens import split_unissued, uncorroborated_in_hindsight, unissued_rows
from custodes.text import plural


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
        "own data. High from the first such token used from a network new to its account "
        "(none of its requests came from there in 28 days), else from five in a day; critical "
        "from a hundred.")
    false_positives = (
        "A partial issuance export (rows missing for a whole period): tokens from new devices "
        "look unexplained. Check the issuance.ledger_gap finding and the ledger's completeness.",
        "A customer abroad logging in on a new phone, whose login row the ledger lost.")
    requires = ("access", "issuance")
    group_by = ("kid",)
    entity_columns = {"kid": "kid"}
    top_entities = {"src_ip": "src_ip", "country": "geo_country", "asn": "asn"}
    counts = ("requests", "accounts", "tokens", "sources", "from_new_networks")
    materialize = True
    counted_columns = ("novel",)
    evidence_rank = 3

    def rows(self, ctx):
        forged_looking, _ = split_unissued(ctx)
        return forged_looking

    def scope_rows(self, ctx, flagged):
        # Detection judged each token with the issuance known when it was used; scope judges it
        # with all issuance known now, so a lost-row customer whose device or session shows up
        # in their own ledger later is not counted as a victim.
        # Detection keeps only the columns it counts; scope reads the whole requests again.
        rows = unissued_rows(ctx)
        keys = ibis.memtable(keys_table(flagged, ("day", "kid"), rows.schema()))
        rows = rows.semi_join(keys, ["day", "kid"])
        # Fetched once (the hindsight check joins these rows three times), under a name of
        # their own: another incident's scope on the same engine must not replace them.
        name = stable_id("detect_scope_unissued", *sorted((f["day"], f["kid"]) for f in flagged))
        rows = ctx.engine.register(name.replace("-", "_"), ctx.engine.to_arrow(rows))
        return uncorroborated_in_hindsight(ctx, rows)

    def extra_counts(self, rows):
        novel = ibis.ifelse(rows.novel, rows.credential_id_key, ibis.null("int64"))
        return {"tokens": rows.credential_id_key.nunique(), "sources": rows.src_ip_key.nunique(),
                "from_new_networks": novel.nunique()}

    def severity_of(self, row):
        # One unexplained token is most often a lost ledger row nobody could tie to a device;
        # several in a day, none tied to their subject, are not. Nor is one from a network its
        # account never used: a lost row AND a new phone AND a new network is a rare coincidence,
        # and it is every forged token (so the first one raises the alarm, within the hour).
        volume = max(row["tokens"], row["accounts"])
        if volume >= 100:
            return "critical"
        if volume >= 5 or row["from_new_networks"] >= 1:
            return "high"
        return "medium" if volume >= 2 else "low"

    def title_of(self, row):
        new = f" ({row['from_new_networks']:,} from networks new to their accounts)" if row["from_new_networks"] else ""
        return (f"{plural(row['tokens'], 'token')} signed with kid {row['kid']} that the authorization server "
                f"never issued{new}, reading {plural(row['accounts'], 'account')} from "
                f"{plural(row['sources'], 'address')}")
