"""employee.many_customers: staff reading far more customers than their peers, or at night."""

from __future__ import annotations

import statistics

import ibis

from custodes.detect.rule import Rule, account_key, successful
from custodes.detect.timecols import hour_of_day_expr


class EmployeeManyCustomers(Rule):
    id = "employee.many_customers"
    title = "Employee reads far more customers than peers"
    severity = "medium"
    attack = ("T1530", "T1213")
    description = (
        "Per day and employee, the distinct customer accounts they read through the back "
        "office, against the median of their peers the same day (their department from the "
        "workforce roster when there is one, else all staff), and how many they read in the "
        "hours when staff as a whole hardly work. Five times the peer median (and at least 20 "
        "accounts) is a finding; ten times, or five times with ten or more read off hours, is high.")
    false_positives = ("Staff working a bulk case (a recall, a fraud sweep) on a ticket.",)
    requires = ("access",)
    optional = ("workforce",)
    group_by = ("actor_id",)
    entity_columns = {"actor_id": "actor_id", "employee_id": "actor_id"}
    top_entities = {"src_ip": "src_ip"}
    counts = ("requests", "accounts", "peer_median", "night_accounts")
    evidence_rank = 2
    min_accounts = 20
    factor = 5

    def rows(self, ctx):
        a = successful(ctx.events("access"))
        a = a.filter((a.actor_type == "employee") & a.actor_id.notnull())
        a = self.with_day(a)
        return a.filter(account_key(a).notnull())

    def query(self, ctx):
        rows = ctx.in_window(self.rows(ctx))
        rows = rows.mutate(hour=hour_of_day_expr(rows.time))
        # Quiet hours come from the staff's own rhythm the same day (no timezone setting): hours
        # in which at most a quarter of the day's active staff worked. Counting people, not
        # requests, keeps one busy night owl from making the night look busy.
        by_hour = rows.group_by(["day", "hour"]).aggregate(staff=rows.actor_id.nunique())
        by_day = rows.group_by("day").aggregate(day_staff=rows.actor_id.nunique())
        share = by_hour.inner_join(by_day, "day")
        quiet = share.filter(share.staff * 4 <= share.day_staff).select("day", "hour")
        night = rows.semi_join(quiet, ["day", "hour"])
        night = night.group_by(["day", "actor_id"]).aggregate(night_accounts=account_key(night).nunique())
        daily = rows.group_by(["day", "actor_id"]).aggregate(
            accounts=account_key(rows).nunique(), requests=rows.count(),
            first_seen=rows.time.min(), last_seen=rows.time.max())
        out = daily.left_join(night, ["day", "actor_id"]).select(
            *daily.columns, night_accounts=night.night_accounts.fill_null(0))
        if ctx.has("workforce"):
            w = ctx.table("workforce").select(w_id="employee_id", department="department")
            out = out.left_join(w, out.actor_id == w.w_id).drop("w_id")
        else:
            out = out.mutate(department=ibis.null("string"))
        return out

    def judge(self, ctx, found):
        """Compare each employee with the median of their peers that day (a few rows per day)."""
        by_day: dict[int, list[dict]] = {}
        for row in found:
            by_day.setdefault(row["day"], []).append(row)
        flagged = []
        for rows in by_day.values():
            for row in rows:
                peers = [r["accounts"] for r in rows if r is not row
                         and r["department"] == row["department"]]
                if len(peers) < 3:
                    peers = [r["accounts"] for r in rows if r is not row]
                row["peer_median"] = statistics.median(peers) if peers else 0
                if self._anomalous(row):
                    flagged.append(row)
        return flagged

    def evidence_rows(self, ctx, flagged):
        """The employee's reads on every day from their first flagged day to their last: a
        quieter day in the middle of a browsing spree is part of it."""
        span: dict[str, tuple[int, int]] = {}
        for f in flagged:
            low, high = span.get(f["actor_id"], (f["day"], f["day"]))
            span[f["actor_id"]] = (min(low, f["day"]), max(high, f["day"]))
        filled = [{"day": d, "actor_id": who} for who, (low, high) in span.items()
                  for d in range(low, high + 1)]
        return super().evidence_rows(ctx, filled)

    def _anomalous(self, row):
        many = row["accounts"] >= max(self.min_accounts, self.factor * row["peer_median"])
        nightly = row["night_accounts"] >= self.min_accounts and row["night_accounts"] * 3 >= row["accounts"]
        return many or nightly

    def severity_of(self, row):
        peers = max(row["peer_median"], 1)
        very_many = row["accounts"] >= max(self.min_accounts, 10 * peers)
        many_at_night = row["night_accounts"] >= 10 and row["accounts"] >= self.factor * peers
        return "high" if very_many or many_at_night else "medium"

    def title_of(self, row):
        night = f", {row['night_accounts']} of them in off hours" if row["night_accounts"] else ""
        return (f"Employee {row['actor_id']} read {row['accounts']} customer accounts in a day "
                f"(peer median {row['peer_median']:g}){night}")
