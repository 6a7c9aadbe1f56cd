"""key.departed_custodian: signing keys still trusted although someone who could copy them has
left since they were created (the DESIGN.md case: the key was neither rotated nor revoked)."""

from __future__ import annotations

import ibis

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
        now = ctx.lit_time(ctx.now)
        k = ctx.table("keys")
        live = k.filter((k.created_at <= now) & (k.retired_at.isnull() | (k.retired_at > now)))
        live = live.select("kid", "created_at", "retired_at")
        c = ctx.table("key_custody").select("kid", "employee_id", "granted_at")
        w = ctx.table("workforce")
        w = w.filter(w.terminated_at.notnull() & (w.terminated_at <= now))
        w = w.select("employee_id", "terminated_at")
        j = live.inner_join(c, "kid").inner_join(w, "employee_id")
        j = j.filter((j.terminated_at > j.created_at) & (j.granted_at <= j.terminated_at))
        # A retirement already scheduled (dated after now) means the rotation is under way.
        j = j.mutate(rotated=j.retired_at.notnull())
        return j.group_by(["kid", "employee_id"]).aggregate(
            first_seen=j.terminated_at.min(), last_seen=now,
            rotation_started=j.rotated.max(),
            days_since_departure=((now.epoch_seconds() - j.terminated_at.epoch_seconds()) // 86400).max(),
        ).mutate(day=ibis.null("int64"))

    def severity_of(self, row):
        return "medium" if row["rotation_started"] else "high"

    def title_of(self, row):
        return (f"Signing key {row['kid']} is still trusted {plural(row['days_since_departure'], 'day')} after "
                f"its custodian {row['employee_id']} left, and was never rotated"
                if not row["rotation_started"] else
                f"Signing key {row['kid']} is still trusted after its custodian {row['employee_id']} "
                f"left; its retirement is scheduled")
