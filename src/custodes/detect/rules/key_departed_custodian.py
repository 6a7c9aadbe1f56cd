"""key.departed_custodian: signing keys still trusted although someone who could copy them has
left since they were created (the DESIGN.md case: the key was neither rotated nor revoked)."""

from __future__ import annotations

import ibis

from custodes.detect import posture
from custodes.detect.rule import Rule
from custodes.text import plural


class DepartedCustodian(Rule):
    id = "key.departed_custodian"
    title = "Signing key outlived a departed custodian"
    severity = "high"
    attack = ("T1552.004", "T1606")
    description = (
        "A signing key that is not retired at the run's data-time now, one of whose custodians "
        "(key_custody) has left the company (workforce.terminated_at) after the key was created. "
        "Whatever that person copied still signs valid tokens. Medium when the key's retirement "
        "is already scheduled (retired_at after now: rotation under way).")
    false_positives = ("Custody that never included the private material (e.g. audit-only access).",)
    requires = ("keys", "key_custody", "workforce")
    kind = "posture"
    group_by = ("kid", "employee_id")
    entity_columns = {"kid": "kid", "employee_id": "employee_id"}
    counts = ("days_since_departure",)
    evidence_rank = 0

    def query(self, ctx):
        j = posture.departed_custodians(ctx, ctx.now)
        return j.select(
            "kid", "employee_id", "rotation_started", first_seen=j.terminated_at,
            last_seen=ctx.lit_time(ctx.now), days_since_departure=posture.days_since(j.terminated_at, ctx.now),
            day=ibis.null("int64"))

    def severity_of(self, row):
        return "medium" if row["rotation_started"] else "high"

    def title_of(self, row):
        return (f"Signing key {row['kid']} is still trusted {plural(row['days_since_departure'], 'day')} after "
                f"its custodian {row['employee_id']} left, and was never rotated"
                if not row["rotation_started"] else
                f"Signing key {row['kid']} is still trusted after its custodian {row['employee_id']} "
                f"left; its retirement is scheduled")
