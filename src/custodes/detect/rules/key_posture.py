"""key.posture: signing keys kept as files, or older than the rotation policy."""

from __future__ import annotations

import datetime as dt

import ibis

from custodes.config.types import Positive
from custodes.detect.rule import Rule


class KeyPosture(Rule):
    id = "key.posture"
    title = "Signing key stored outside an HSM/KMS or past its rotation age"
    severity = "medium"
    attack = ("T1552.004",)
    description = (
        "A signing key not retired at now whose private material is stored as a file (anyone "
        "with the file can forge tokens, and copying it leaves no trace), or older than the "
        "rotation policy (detect.key_max_age_days in custodes.yaml, default 365).")
    false_positives = ("Test keys that never sign production tokens.",)
    requires = ("keys",)
    kind = "posture"
    group_by = ("kid",)
    entity_columns = {"kid": "kid"}
    counts = ("age_days",)
    evidence_rank = 0
    parameters = {"key_max_age_days": Positive}

    def query(self, ctx):
        now = ctx.lit_time(ctx.now)
        max_age = int(ctx.setting("key_max_age_days", 365))
        too_old_before = ctx.lit_time(ctx.now - dt.timedelta(days=max_age))
        k = ctx.table("keys")
        k = k.filter((k.created_at <= now) & (k.retired_at.isnull() | (k.retired_at > now)))
        k = k.filter((k.storage == "file") | (k.created_at < too_old_before))
        return k.select(
            "kid", first_seen=k.created_at, last_seen=now,
            in_file=(k.storage == "file").fill_null(False),
            age_days=((now.epoch_seconds() - k.created_at.epoch_seconds()) // 86400),
            max_age=ibis.literal(max_age), day=ibis.null("int64"),
        )

    def severity_of(self, row):
        return "medium" if row["in_file"] else "low"

    def title_of(self, row):
        why = []
        if row["in_file"]:
            why.append("stored as a file, not in an HSM/KMS")
        if row["age_days"] > row["max_age"]:
            why.append(f"{row['age_days']} days old (policy: {row['max_age']})")
        return f"Signing key {row['kid']} is " + " and ".join(why)
