"""integrity.log_gap: hours with no events from a source that always sends."""

from __future__ import annotations

import ibis
import pyarrow as pa

from custodes.detect.daily import days_from
from custodes.detect.rule import Rule
from custodes.detect.timecols import hour_number_expr
from custodes.text import plural

WEEK_HOURS = 168


class LogGap(Rule):
    id = "integrity.log_gap"
    title = "Gap in the access log"
    severity = "medium"
    attack = ("T1070",)
    description = (
        "Hours with no access event at all, or none from a service that sent something in at "
        "least 160 of the previous 168 hours. Logs that go missing are how breaches stay "
        "unscoped (DESIGN.md: months of web logs were lost); a gap is reported once per day "
        "and source, with the number of silent hours.")
    false_positives = ("A planned outage, or a service decommissioned.",)
    requires = ("access",)
    lookback_days = 7
    group_by = ("source",)
    entity_columns = {"actor_id": "service"}
    counts = ("gap_hours",)
    evidence_rank = 0
    has_rows = False

    def query(self, ctx):
        look = None if ctx.since_day is None else ctx.since_day - self.lookback_days
        seen = ctx.engine.register("detect_log_hours", days_from(ctx, "log_hours", look, _hours_seen))
        seen = seen.drop("day")
        first = ctx.first_day if ctx.since is None else max(ctx.since_day, ctx.first_day or 0)
        last_hour = int(ctx.now.timestamp() // 3600)  # the current hour is still arriving
        days = ibis.memtable(pa.table({"g_day": pa.array(
            list(range(first, last_hour // 24 + 1)), pa.int64())}))
        sources = seen.select("source").distinct()
        grid_days = sources.cross_join(days)
        prior = seen.rename(s_source="source", s_hidx="hidx")
        cover = grid_days.inner_join(prior, [grid_days.source == prior.s_source,
                                             prior.s_hidx < grid_days.g_day * 24,
                                             prior.s_hidx >= grid_days.g_day * 24 - WEEK_HOURS])
        steady = cover.group_by(["source", "g_day"]).aggregate(n=cover.s_hidx.nunique())
        steady = steady.filter(steady.n >= 160)
        hours = ibis.memtable(pa.table({"h": pa.array(range(24), pa.int64())}))
        grid = steady.cross_join(hours)
        grid = grid.mutate(hidx=grid.g_day * 24 + grid.h).filter(lambda g: g.hidx < last_hour)
        gaps = grid.anti_join(seen, ["source", "hidx"])
        return gaps.group_by(day="g_day", source="source").aggregate(
            gap_hours=gaps.hidx.count(),
            first_seen=(gaps.hidx.min() * 3600).as_timestamp("s"),
            last_seen=((gaps.hidx.max() + 1) * 3600).as_timestamp("s"),
        ).mutate(service=ibis.ifelse(ibis._.source == "*", "", ibis._.source))

    def severity_of(self, row):
        return "medium"

    def title_of(self, row):
        who = "the whole access log" if row["source"] == "*" else f"service {row['source']}"
        return f"{plural(row['gap_hours'], 'silent hour')} in {who} on one day"


def _hours_seen(a: ibis.Table) -> ibis.Table:
    """The hours (numbered from 1970) with any event (source ``*``) and with events of each
    service, per day."""
    hidx = hour_number_expr(a.time)
    services = a.filter(a.actor_type == "service").select(source=a.actor_id, hidx=hidx)
    seen = a.select(source=ibis.literal("*"), hidx=hidx).union(services).distinct()
    return seen.mutate(day=(seen.hidx // 24).cast("int64"))
