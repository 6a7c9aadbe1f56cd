"""The daily timeline of a scope as a small SVG bar chart, drawn by hand (no plotting library):
bars are distinct accounts touched per day, the line is requests per day on its own scale.
Every day between the first and last access gets a slot, so quiet days show as gaps."""

from __future__ import annotations

import datetime as dt
from html import escape

from custodes.text import plural

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 64, 34, 46
BAR, LINE, AXIS, TEXT = "#b23a48", "#1d3557", "#888888", "#222222"


def _days(daily: list[dict]) -> list[dict]:
    if not daily:
        return []
    by_date = {d["date"]: d for d in daily}
    first, last = dt.date.fromisoformat(daily[0]["date"]), dt.date.fromisoformat(daily[-1]["date"])
    out, day = [], first
    while day <= last:
        out.append(by_date.get(day.isoformat(), {"date": day.isoformat(), "requests": 0, "accounts": 0}))
        day += dt.timedelta(days=1)
    return out


def _nice_max(value: int) -> int:
    """A round axis maximum at or above ``value`` (1, 2 or 5 times a power of ten)."""
    value = max(int(value), 1)
    power = 1
    while power * 10 <= value:
        power *= 10
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def _ticks(nice_max: int) -> int:
    """Gridlines that land on whole numbers of accounts."""
    for n in (5, 4, 2):
        step = nice_max // n
        if nice_max % n == 0 and int(str(step)[0]) in (1, 2, 5) and set(str(step)[1:]) <= {"0"}:
            return n
    return 1


def _fmt(n) -> str:
    n = int(n)
    for unit, size in (("M", 1_000_000), ("k", 1_000)):
        if n >= size:
            return f"{n / size:.1f}".rstrip("0").rstrip(".") + unit
    return str(n)


def timeline_svg(daily: list[dict], title: str = "Accounts touched per day") -> str:
    days = _days(daily)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    acc_max = _nice_max(max((d["accounts"] for d in days), default=1))
    req_max = _nice_max(max((d["requests"] for d in days), default=1))
    slot = plot_w / max(len(days), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="Helvetica, Arial, sans-serif" font-size="11">',
             f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
             f'<text x="{LEFT}" y="20" font-size="13" font-weight="bold" fill="{TEXT}">{escape(title)}</text>',
             f'<text x="{WIDTH - RIGHT}" y="20" text-anchor="end" fill="{LINE}">line: requests per day</text>']
    ticks = _ticks(acc_max)
    for i in range(ticks + 1):  # grid and both axes' labels (requests share the gridlines)
        y = TOP + plot_h - plot_h * i / ticks
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{BAR}">{_fmt(acc_max * i // ticks)}</text>')
        req = req_max * i / ticks
        parts.append(f'<text x="{LEFT + plot_w + 6}" y="{y + 4:.1f}" fill="{LINE}">{_fmt(req) if req == int(req) else f"{req:g}"}</text>')
    points = []
    for n, d in enumerate(days):
        h = plot_h * d["accounts"] / acc_max
        x = LEFT + n * slot
        parts.append(f'<rect x="{x + slot * 0.1:.1f}" y="{TOP + plot_h - h:.1f}" width="{max(slot * 0.8, 0.8):.1f}" '
                     f'height="{h:.1f}" fill="{BAR}"><title>{d["date"]}: {plural(d["accounts"], "account")}, '
                     f'{plural(d["requests"], "request")}</title></rect>')
        points.append(f'{x + slot / 2:.1f},{TOP + plot_h - plot_h * d["requests"] / req_max:.1f}')
    if len(points) > 1:
        parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{LINE}" stroke-width="1.5"/>')
    elif points:
        x, y = points[0].split(",")
        parts.append(f'<circle cx="{x}" cy="{y}" r="3" fill="{LINE}"/>')
    parts.append(f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" stroke="{AXIS}"/>')
    every = max(1, round(len(days) / 8))
    for n in range(0, len(days), every):
        x = LEFT + n * slot + slot / 2
        parts.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle" fill="{TEXT}">{days[n]["date"][5:]}</text>')
    parts.append(f'<text x="{LEFT}" y="{HEIGHT - 8}" fill="{BAR}">bars: distinct accounts per day (UTC)</text>')
    parts.append("</svg>")
    return "\n".join(parts)
