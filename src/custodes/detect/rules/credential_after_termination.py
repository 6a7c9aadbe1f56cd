"""credential.after_termination: a credential or an employee account used after its owner left."""

from __future__ import annotations

import ibis

from custodes.detect.rule import SKEW, Rule, account_key, day_expr, successful
from custodes.text import plural


class AfterTermination(Rule):
    id = "credential.after_termination"
    title = "Credential used after its owner left"
    severity = "high"
    attack = ("T1078", "T1078.004")
    description = (
        "Successful requests, after an employee's termination time (beyond clock skew), made "
        "with a long-lived credential they own (credentials.owner_id) or as the employee "
        "themself (actor_type employee). A termination later than the run's now has not "
        "happened yet and is ignored.")
    false_positives = ("A credential transferred to a colleague or a service without updating its owner.",)
    requires = ("access", "workforce")
    optional = ("credentials",)
    group_by = ("cred", "employee_id")
    entity_columns = {"credential_id": "cred", "employee_id": "employee_id"}
    top_entities = {"src_ip": "src_ip", "actor_id": "actor_id"}
    counts = ("requests", "accounts", "records")
    materialize = True
    evidence_rank = 3

    def rows(self, ctx):
        a = successful(ctx.events("access"))
        w = ctx.table("workforce")
        leavers = w.filter(w.terminated_at.notnull()).select(
            employee_id="employee_id", terminated_at="terminated_at")
        rows = self._as_employee(a, leavers)
        if ctx.has("credentials"):
            owned = self._with_owned_credential(ctx, a, leavers)
            # A leaver using their own credential is already a row of the first part (same
            # credential, employee and termination). Dropping it here, instead of a UNION
            # DISTINCT over whole rows, lets the engine read only the columns counted.
            owned = owned.filter(~((owned.actor_type == "employee") & (owned.actor_id == owned.employee_id))
                                 .fill_null(False))
            rows = rows.union(owned.select(*rows.columns))
        return rows.mutate(day=day_expr(rows.time))

    @staticmethod
    def _as_employee(a, leavers):
        e = a.filter(a.actor_type == "employee")
        j = e.inner_join(leavers, e.actor_id == leavers.employee_id)
        j = j.filter(j.time > j.terminated_at + SKEW)
        return j.mutate(cred=j.credential_id.fill_null("")).drop("terminated_at")

    @staticmethod
    def _with_owned_credential(ctx, a, leavers):
        c = ctx.table("credentials").select(owned_id="credential_id", employee_id="owner_id")
        owned = c.inner_join(leavers, "employee_id")
        # Access tokens are customer traffic: only long-lived credentials can be owned.
        x = a.filter((a.credential_type != "access_token") & a.credential_id.notnull())
        j = x.inner_join(owned, x.credential_id == owned.owned_id)
        j = j.filter(j.time > j.terminated_at + SKEW)
        return j.mutate(cred=j.credential_id).drop("owned_id", "terminated_at")

    def extra_counts(self, rows):
        records = ibis.coalesce(rows.record_count, ibis.ifelse(account_key(rows).notnull(), 1, 0))
        return {"records": records.sum()}

    def severity_of(self, row):
        return "critical" if max(row["records"] or 0, row["accounts"]) >= 1000 else "high"

    def title_of(self, row):
        what = f"credential {row['cred']}" if row["cred"] else "their account"
        return (f"{row['employee_id']} left, yet {what} made {plural(row['requests'], 'request')} "
                f"touching {plural(row['accounts'], 'account')} ({plural(row['records'] or 0, 'record')})")
