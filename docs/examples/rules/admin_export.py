"""custom.admin_export: anyone pulling customers through the back office's export route."""

from custodes.detect.rule import Rule, day_expr, successful


class AdminExport(Rule):
    id = "custom.admin_export"
    title = "Someone used the export route"
    severity = "low"
    attack = ("T1530",)
    requires = ("access",)
    group_by = ("actor_id",)  # one finding per day and actor
    entity_columns = {"actor_id": "actor_id"}
    counts = ("requests", "records")

    def rows(self, ctx):  # the access rows behind findings, with a `day`
        a = successful(ctx.events("access"))  # refused requests leak nothing
        a = a.filter(a.route == "/admin/export")
        return a.mutate(day=day_expr(a.time))

    def extra_counts(self, rows):  # evidence beyond requests and accounts
        return {"records": rows.record_count.sum()}
