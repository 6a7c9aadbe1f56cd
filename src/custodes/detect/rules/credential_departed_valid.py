"""credential.departed_still_valid: long-lived credentials of people who have left, still valid."""

from __future__ import annotations

import ibis

from custodes.detect import posture
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
        j = posture.departed_credentials(ctx, ctx.now)
        return j.select(
            "credential_id", "credential_type", employee_id=j.owner_id, first_seen=j.terminated_at,
            last_seen=ctx.lit_time(ctx.now), days_since_departure=posture.days_since(j.terminated_at, ctx.now),
            day=ibis.null("int64"))

    def title_of(self, row):
        return (f"{row['credential_type'] or 'credential'} {row['credential_id']} of "
                f"{row['employee_id']} is still valid {plural(row['days_since_departure'], 'day')} after they left")
