"""credential.departed_still_valid: long-lived credentials of people who have left, still valid."""

from __future__ import annotations

import ibis

from custodes.detect.rule import Rule
from custodes.text import plural


class DepartedStillValid(Rule):
    id = "credential.departed_still_valid"
    title = "Credential of departed staff still valid"
    severity = "medium"
    attack = ("T1078.004", "T1098")
    description = (
        "A credential (API key, personal token, SSH key...) owned by an employee whose "
        "termination has passed at the run's data-time now, neither revoked nor expired. "
        "Offboarding missed it: revoke it (custodes offboard EMPLOYEE --apply).")
    false_positives = ("A credential handed over to a service but still recorded under its creator.",)
    requires = ("credentials", "workforce")
    kind = "posture"
    group_by = ("credential_id", "employee_id")
    entity_columns = {"credential_id": "credential_id", "employee_id": "employee_id"}
    counts = ("days_since_departure",)
    evidence_rank = 0

    def query(self, ctx):
        now = ctx.lit_time(ctx.now)
        c = ctx.table("credentials")
        c = c.filter((c.created_at <= now)
                     & (c.revoked_at.isnull() | (c.revoked_at > now))
                     & (c.expires_at.isnull() | (c.expires_at > now)))
        c = c.select("credential_id", "credential_type", employee_id=c.owner_id)
        w = ctx.table("workforce")
        w = w.filter(w.terminated_at.notnull() & (w.terminated_at <= now))
        j = c.inner_join(w.select("employee_id", "terminated_at"), "employee_id")
        return j.select(
            "credential_id", "employee_id", "credential_type",
            first_seen=j.terminated_at, last_seen=now,
            days_since_departure=((now.epoch_seconds() - j.terminated_at.epoch_seconds()) // 86400),
            day=ibis.null("int64"),
        )

    def title_of(self, row):
        return (f"{row['credential_type'] or 'credential'} {row['credential_id']} of "
                f"{row['employee_id']} is still valid {plural(row['days_since_departure'], 'day')} after they left")
