"""issuance.ledger_gap: unissued tokens that their own subject used from a known device or
address: a hole in the issuance ledger, reported once per day rather than as many alerts."""

from __future__ import annotations

from custodes.detect.rule import Rule
from custodes.detect.rules._tokens import CountsTokens, split_unissued
from custodes.text import plural


class LedgerGap(CountsTokens, Rule):
    id = "issuance.ledger_gap"
    title = "Issuance ledger gap"
    severity = "low"
    attack = ()
    description = (
        "Tokens absent from the issuance ledger that are nonetheless tied to their subject: the "
        "session is known, or the subject was issued tokens from the same device or address. "
        "This is evidence the ledger is incomplete (lost or late rows), which weakens the "
        "token.unissued detection; it is not itself an attack.")
    false_positives = ("Expected in small numbers when the ledger export drops rows.",)
    requires = ("access", "issuance")
    group_by = ("kid",)
    entity_columns = {"kid": "kid"}
    counts = ("requests", "accounts", "tokens")
    materialize = True
    evidence_rank = 0

    def rows(self, ctx):
        _, lost_row = split_unissued(ctx)
        return lost_row

    def severity_of(self, row):
        return "low" if row["tokens"] >= 10 else "info"

    def title_of(self, row):
        return (f"Issuance ledger gap: {plural(row['tokens'], 'token')} (kid {row['kid']}) missing from the "
                f"ledger, each used by its own subject from a known device or address")
