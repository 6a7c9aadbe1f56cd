"""Inline SVG charts, computed here and drawn by the templates: no script, no external asset.

Each function returns plain numbers (positions and sizes in the SVG's own units) so the template
only places rectangles and labels, and tests can check the geometry.
"""

from __future__ import annotations

import datetime as dt

from custodes.timefmt import parse_iso


def _nice_max(value: int) -> int:
    """The smallest 1/2/5 x 10^k at or above ``value`` (a readable axis top)."""
    if value <= 0:
        return 1
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def daily_bars(daily: list[dict], width: int = 960, height: int = 150, key: str = "accounts") -> dict:
    """A bar per day of ``daily`` (``{"date", "requests", "accounts"}``), scaled to ``key``.
    Days without activity between the first and the last get an empty slot, so the axis is
    true time and a pause in the attack shows as one."""
    daily = with_quiet_days(daily)
    left, bottom, top = 56, 22, 8
    plot_w, plot_h = width - left - 8, height - bottom - top
    top_value = _nice_max(max((int(d[key]) for d in daily), default=0))
    n = max(len(daily), 1)
    slot = plot_w / n
    bars = []
    for i, d in enumerate(daily):
        h = plot_h * int(d[key]) / top_value
        bars.append({"x": round(left + i * slot + slot * 0.1, 1), "w": round(max(slot * 0.8, 1), 1),
                     "y": round(top + plot_h - h, 1), "h": round(h, 1),
                     "date": d["date"], "value": int(d[key]), "requests": int(d["requests"])})
    ticks = [{"y": round(top + plot_h - plot_h * f, 1), "label": f"{int(top_value * f):,}"}
             for f in (0, 0.5, 1)]
    step = max(1, n // 8)
    labels = [{"x": round(left + i * slot + slot / 2, 1), "text": daily[i]["date"][5:]}
              for i in range(0, len(daily), step)]
    return {"width": width, "height": height, "bars": bars, "ticks": ticks, "labels": labels,
            "left": left, "base": top + plot_h, "right": width - 8, "key": key}


def with_quiet_days(daily: list[dict], limit: int = 400) -> list[dict]:
    if not daily:
        return daily
    seen = {d["date"]: d for d in daily}
    first = dt.date.fromisoformat(min(seen))
    last = dt.date.fromisoformat(max(seen))
    if (last - first).days >= limit:  # a very long span: bars only where there was activity
        return sorted(daily, key=lambda d: d["date"])
    days = (first + dt.timedelta(days=i) for i in range((last - first).days + 1))
    return [seen.get(d.isoformat(), {"date": d.isoformat(), "requests": 0, "accounts": 0}) for d in days]


def field_bars(fields: dict[str, int], accounts: int, width: int = 420, row: int = 22) -> dict:
    """One horizontal bar per personal-data item: accounts exposed, as a share of all accounts."""
    label_w, value_w = 110, 96
    plot_w = width - label_w - value_w
    items = sorted(fields.items(), key=lambda kv: (-kv[1], kv[0]))
    rows = []
    for i, (item, count) in enumerate(items):
        share = count / accounts if accounts else 0.0
        rows.append({"y": i * row, "item": item, "count": count, "share": share,
                     "w": round(max(plot_w * share, 1), 1)})
    return {"width": width, "height": max(len(rows), 1) * row, "rows": rows,
            "label_w": label_w, "bar_x": label_w, "value_x": label_w + plot_w + 8, "row": row}


def _parse(value) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    try:
        return parse_iso(str(value))
    except ValueError:
        return None


#: a finding whose window is longer than this (e.g. a key-posture finding dated from the key's
#: creation years ago) does not set the axis: it is drawn clipped, marked as starting earlier
LONG_WINDOW = dt.timedelta(days=30)
SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


def finding_lanes(findings: list[dict], width: int = 1400, lane: int = 24, label_w: int = 230) -> dict:
    """A lane per rule, with a segment per finding between its first_seen and last_seen, on one
    shared axis: when each kind of evidence appeared and how it grew."""
    spans = [(f, _parse(f.get("first_seen")), _parse(f.get("last_seen"))) for f in findings]
    spans = [(f, a, b or a) for f, a, b in spans if a is not None]
    if not spans:
        return {"width": width, "height": 0, "lanes": [], "start": None, "end": None}
    end = max(b for _, _, b in spans)
    short = [a for _, a, b in spans if b - a <= LONG_WINDOW]
    start = min(short) if short else min(a for _, a, _ in spans)
    total = max((end - start).total_seconds(), 1.0)
    left, right = label_w, width - 8

    def x_of(t: dt.datetime) -> float:
        return left + (right - left) * max((t - start).total_seconds(), 0.0) / total

    by_rule: dict[str, list] = {}
    for f, a, b in sorted(spans, key=lambda s: s[1]):
        by_rule.setdefault(f.get("rule_id", "?"), []).append((f, a, b))
    lanes = []
    for i, (rule, items) in enumerate(sorted(by_rule.items(), key=lambda kv: kv[1][0][1])):
        segments = []
        for f, a, b in items:
            x = x_of(a)
            segments.append({"x": round(x, 1), "w": round(max(x_of(b) - x, 3), 1),
                             "severity": f.get("severity", "info"), "title": f.get("title", ""),
                             "first_seen": a, "last_seen": b, "clipped": a < start})
        worst = min((seg["severity"] for seg in segments), key=lambda s: SEVERITY_RANK.get(s, 9))
        lanes.append({"y": i * lane, "rule_id": rule, "count": len(items), "severity": worst,
                      "segments": segments, "clipped": any(seg["clipped"] for seg in segments)})
    return {"width": width, "height": len(lanes) * lane, "lanes": lanes, "start": start, "end": end,
            "lane": lane, "left": left, "right": right}
