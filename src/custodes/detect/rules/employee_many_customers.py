"""employee.many_customers: staff reading far more customers than their peers, or at night."""

from __future__ import annotations

import ibis
import numpy as np

from custodes.detect.daily import days_from
from custodes.detect.rule import Rule, account_key, day_expr, successful
from custodes.detect.timecols import hour_of_day_expr
from custodes.text import plural

#: Days of peers' reads a day is compared with, and days whose rhythm says which hours are quiet.
PEER_DAYS = 14
RHYTHM_DAYS = 7


class EmployeeManyCustomers(Rule):
    id = "employee.many_customers"
    title = "Employee reads far more customers than peers"
    severity = "medium"
    attack = ("T1530", "T1213")
    description = (
        f"Per day and employee, the distinct customer accounts they read through the back "
        f"office, against what a peer reads in a day: the median over the previous "
        f"{PEER_DAYS} days of their peers' daily counts (their department from the workforce "
        f"roster when it has three or more other readers, else all staff), and how many they "
        f"read in the hours when, over the previous {RHYTHM_DAYS} days, at most a quarter of "
        f"the staff worked. Five times a peer's day (and at least 20 accounts), or twice a "
        f"peer's day (and 20) in the quiet hours, is a finding; ten times, or five times with "
        f"ten or more in the quiet hours, is high. Both baselines come from earlier days, so a "
        f"day's count is judged the same at 10:00 as at midnight: the finding appears as soon "
        f"as the reads cross the bar and only grows.")
    false_positives = ("Staff working a bulk case (a recall, a fraud sweep) on a ticket.",)
    requires = ("access",)
    optional = ("workforce",)
    lookback_days = PEER_DAYS
    group_by = ("actor_id",)
    entity_columns = {"actor_id": "actor_id", "employee_id": "actor_id"}
    top_entities = {"src_ip": "src_ip"}
    counts = ("requests", "accounts", "peer_median", "night_accounts")
    evidence_rank = 2
    min_accounts = 20
    factor = 5

    def rows(self, ctx):
        return _reads(ctx.events("access"))

    def query(self, ctx):
        first = None if ctx.since_day is None else ctx.since_day - PEER_DAYS
        daily = ctx.engine.register("detect_employee_days", days_from(ctx, "employee_days", first, _per_employee))
        hours = ctx.engine.register("detect_staff_hours", days_from(ctx, "staff_hours", first, _staff_per_hour))
        window = ctx.in_window(self.rows(ctx))
        window = window.mutate(hour=hour_of_day_expr(window.time))
        night = window.semi_join(self._quiet_hours(hours, daily, window), ["day", "hour"])
        night = night.group_by(["day", "actor_id"]).aggregate(night_accounts=account_key(night).nunique())
        out = daily.left_join(night, ["day", "actor_id"]).select(
            *daily.columns, night_accounts=night.night_accounts.fill_null(0))
        if ctx.has("workforce"):
            w = ctx.table("workforce").select(w_id="employee_id", department="department")
            out = out.left_join(w, out.actor_id == w.w_id).drop("w_id")
        else:
            out = out.mutate(department=ibis.null("string"))
        # every day of the look-back comes back too: judge() takes the peers' baselines from them
        since = ctx.since_day
        return out.mutate(in_window=ibis.literal(True) if since is None else out.day >= since)

    @staticmethod
    def _quiet_hours(by_hour, daily, window):
        """(day, hour) of the days computed in which, over the previous RHYTHM_DAYS days, at
        most a quarter of the active staff worked (no time-zone setting: the staff's rhythm).
        Counting people, not requests, keeps one busy night owl from making a night busy."""
        by_day = daily.group_by("day").aggregate(day_staff=daily.count())
        days = window.select(d="day").distinct()
        before = lambda t: [t.day < days.d, t.day >= days.d - RHYTHM_DAYS]  # noqa: E731
        hours = days.inner_join(by_hour, before(by_hour))
        hours = hours.group_by(["d", "hour"]).aggregate(staff=hours.staff.sum())
        staff = days.inner_join(by_day, before(by_day))
        staff = staff.group_by("d").aggregate(day_staff=staff.day_staff.sum())
        grid = staff.cross_join(ibis.memtable({"hour": list(range(24))}).cast({"hour": "int64"}))
        grid = grid.left_join(hours, ["d", "hour"]).select(
            "d", "hour", "day_staff", staff=hours.staff.fill_null(0))
        return grid.filter(grid.staff * 4 <= grid.day_staff).select(day="d", hour="hour")

    def judge(self, ctx, found):
        """Each employee's day against the median of their peers' daily counts over the
        previous PEER_DAYS days: per department when three or more others read there, else
        all staff (a few hundred numbers per day)."""
        daily: dict[tuple, list[tuple[str, int]]] = {}
        for row in found:
            for group in (row["department"], "*"):
                daily.setdefault((group, row["day"]), []).append((row["actor_id"], row["accounts"]))
        peers = _Peers(daily)
        flagged = []
        for row in found:
            if not row["in_window"]:
                continue
            base = peers.median(row["department"], row["day"], row["actor_id"])
            if base is None:
                base = peers.median("*", row["day"], row["actor_id"])
            if base is not None:  # without a peer's history there is nothing to compare with
                row["peer_median"] = base
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
        peers = row["peer_median"]
        many = row["accounts"] >= max(self.min_accounts, self.factor * peers)
        nightly = row["night_accounts"] >= max(self.min_accounts, 2 * peers)
        return many or nightly

    def severity_of(self, row):
        peers = max(row["peer_median"], 1)
        very_many = row["accounts"] >= max(self.min_accounts, 10 * peers)
        many_at_night = row["night_accounts"] >= 10 and row["accounts"] >= self.factor * peers
        return "high" if very_many or many_at_night else "medium"

    def title_of(self, row):
        night = f", {row['night_accounts']:,} of them in off hours" if row["night_accounts"] else ""
        return (f"Employee {row['actor_id']} read {plural(row['accounts'], 'customer account')} in a day "
                f"(a peer's day: {row['peer_median']:g}){night}")


def _reads(a: ibis.Table) -> ibis.Table:
    """Successful back-office reads of a customer account by an employee, with ``day``."""
    a = successful(a)
    a = a.filter((a.actor_type == "employee") & a.actor_id.notnull())
    a = a.mutate(day=day_expr(a.time))
    return a.filter(account_key(a).notnull())


def _per_employee(a: ibis.Table) -> ibis.Table:
    """Per day and employee: distinct customers read, requests, first and last read."""
    reads = _reads(a)
    return reads.group_by(["day", "actor_id"]).aggregate(
        accounts=account_key(reads).nunique(), requests=reads.count(),
        first_seen=reads.time.min(), last_seen=reads.time.max())


def _staff_per_hour(a: ibis.Table) -> ibis.Table:
    """Per day and UTC hour: how many employees read customers in it."""
    reads = _reads(a)
    reads = reads.mutate(hour=hour_of_day_expr(reads.time))
    return reads.group_by(["day", "hour"]).aggregate(staff=reads.actor_id.nunique())


class _Peers:
    """Peers' daily counts over the PEER_DAYS days before a day, per group (a department, or
    ``*`` for all staff), gathered once per group and day."""

    def __init__(self, daily: dict[tuple, list[tuple[str, int]]]):
        self.daily = daily
        self.gathered: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def median(self, group, day: int, who: str) -> float | None:
        if (group, day) not in self.gathered:
            rows = [r for d in range(day - PEER_DAYS, day) for r in self.daily.get((group, d), ())]
            self.gathered[(group, day)] = (np.array([r[0] for r in rows], dtype=object),
                                           np.array([r[1] for r in rows], dtype=np.int64))
        names, counts = self.gathered[(group, day)]
        others = names != who
        if len(set(names[others])) < 3:
            return None
        return float(np.median(counts[others]))
