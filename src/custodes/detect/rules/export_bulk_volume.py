"""export.bulk_volume: bulk exports far above what that principal ever exported."""

from __future__ import annotations

import ibis

from custodes.detect.daily import days_from, prior_max
from custodes.config.types import Positive
from custodes.detect.rule import Rule, successful
from custodes.text import plural


class BulkVolume(Rule):
    id = "export.bulk_volume"
    title = "Bulk export far above its baseline"
    severity = "medium"
    attack = ("T1530", "T1567")
    description = (
        "Per day and principal (credential, else actor), customer records returned by bulk "
        "routes (catalog.bulk; without a catalog, responses holding more than one record), "
        "against the most that principal exported on any of the previous 14 days. Needs 7 "
        "days of history (warm-up); batch services are quiet since their volume is their baseline.")
    false_positives = ("A scheduled job exporting a month's data once.",)
    requires = ("access",)
    optional = ("catalog",)
    lookback_days = 14
    group_by = ("principal",)
    entity_columns = {"credential_id": "credential_id", "actor_id": "actor_id"}
    top_entities = {"src_ip": "src_ip"}
    counts = ("requests", "records", "baseline")
    evidence_rank = 2
    min_records = 1000
    parameters = {"bulk_min_records": Positive}

    def rows(self, ctx):
        return self._exports(ctx, ctx.events("access", self.lookback_days))

    def _exports(self, ctx, a):
        a = successful(a)
        if ctx.has("catalog"):
            c = ctx.table("catalog")
            bulk = c.filter(c.bulk.fill_null(False)).select(bulk_route="route")
            a = a.semi_join(bulk, a.route == bulk.bulk_route)
        else:
            a = a.filter(a.record_count > 1)
        a = a.mutate(principal=ibis.coalesce(a.credential_id, a.actor_id, a.src_ip))
        return self.with_day(a)

    def query(self, ctx):
        def per_day(a):
            rows = self._exports(ctx, a)
            return rows.group_by(["day", "principal"]).aggregate(
                records=rows.record_count.fill_null(1).sum(), requests=rows.count(),
                credential_id=rows.credential_id.max(), actor_id=rows.actor_id.max(),
                first_seen=rows.time.min(), last_seen=rows.time.max())

        first = None if ctx.since_day is None else ctx.since_day - self.lookback_days
        daily = ctx.engine.register("detect_bulk_days", days_from(ctx, "bulk_days", first, per_day))
        j = prior_max(daily, "principal", "records", self.lookback_days)
        min_records = int(ctx.setting("bulk_min_records", self.min_records))
        keep = (j.records >= min_records) & (j.records >= j.baseline * 5) & ctx.warmed_up(j.day, 7)
        if ctx.since_day is not None:
            keep = keep & (j.day >= ctx.since_day)
        return j.filter(keep)

    def severity_of(self, row):
        return "high" if row["records"] >= 10 * max(row["baseline"], self.min_records) else "medium"

    def title_of(self, row):
        return (f"{row['principal']} exported {plural(row['records'], 'customer record')} in a day "
                f"(baseline {row['baseline']:,})")
