"""key.posture: signing keys kept as files, of unrecorded storage, or older than the rotation policy."""

from __future__ import annotations

import ibis

from custodes.detect import posture
from custodes.config.types import Positive
from custodes.detect.rule import Rule
from custodes.text import plural


class KeyPosture(Rule):
    id = "key.posture"
    title = "Signing key stored outside an HSM/KMS or past its rotation age"
    severity = "medium"
    attack = ("T1552.004",)
    description = (
        "A signing key not retired at now whose private material is stored as a file (anyone "
        "with the file can forge tokens, and copying it leaves no trace), whose storage is not "
        "recorded (not known to be in an HSM/KMS/vault), or older than the rotation policy "
        "(detect.key_max_age_days in custodes.yaml, default 365).")
    false_positives = ("Test keys that never sign production tokens.",)
    requires = ("keys",)
    kind = "posture"
    group_by = ("kid",)
    entity_columns = {"kid": "kid"}
    counts = ("age_days",)
    evidence_rank = 0
    parameters = {"key_max_age_days": Positive}

    def query(self, ctx):
        max_age = posture.checked_max_age(ctx.setting("key_max_age_days", posture.DEFAULT_KEY_MAX_AGE_DAYS))
        k = posture.stale_keys(ctx, ctx.now, max_age)
        return k.select(
            "kid", "in_file", "storage_unknown", "too_old", "age_days", first_seen=k.created_at,
            last_seen=ctx.lit_time(ctx.now), max_age=ibis.literal(max_age), day=ibis.null("int64"),
        )

    def severity_of(self, row):
        return "medium" if row["in_file"] else "low"

    def title_of(self, row):
        why = []
        if row["in_file"]:
            why.append("stored as a file, not in an HSM/KMS")
        if row["storage_unknown"]:
            why.append("of unrecorded storage (not known to be in an HSM/KMS)")
        if row["too_old"]:
            why.append(f"{plural(row['age_days'], 'day')} old (policy: {row['max_age']})")
        return f"Signing key {row['kid']} is " + " and ".join(why)
