"""The credential posture page's data: the three checks of :mod:`custodes.detect.posture` (the
same the posture rules raise findings from), at the workspace's data-time now, as rows, with
how often each departed owner's credential was used after they left.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import ibis

from custodes.detect import posture as checks
from custodes.detect.lakefacts import data_now
from custodes.ids import key_of

if TYPE_CHECKING:
    from custodes.engine import Engine


def departed_live_credentials(engine: Engine, now: dt.datetime) -> list[dict]:
    """Departed owners' live credentials, with their use after the owner left.

    Two steps: the (few) live credentials of departed staff first, then one pass over access
    filtered on their 64-bit ``credential_id_key`` (integers, not strings)."""
    rows = engine.to_arrow(checks.departed_credentials(engine, now).order_by(
        ["terminated_at", "credential_id"])).to_pylist()
    for row in rows:
        row["uses_after_leaving"], row["last_used"] = None, None
    if not rows or not engine.has("access"):
        return rows
    by_key = {key_of(r["credential_id"]): r for r in rows}
    left = min(r["terminated_at"] for r in rows)
    access = engine.table("access")
    hits = access.filter(access.credential_id_key.isin(list(by_key)) & (access.time > left)
                         & (access.time <= now))
    # Each credential counts only from its own owner's leaving: look that time up by key.
    left_at = hits.credential_id_key.cases(
        *[(key, ibis.literal(r["terminated_at"], "timestamp('UTC')")) for key, r in by_key.items()])
    after = hits.filter(hits.time > left_at)
    used = engine.to_arrow(after.group_by("credential_id_key").aggregate(
        n=after.count(), last=after.time.max())).to_pylist()
    counts = {u["credential_id_key"]: u for u in used}
    for key, row in by_key.items():
        hit = counts.get(key)
        row["uses_after_leaving"] = int(hit["n"]) if hit else 0
        row["last_used"] = hit["last"] if hit else None
    return sorted(rows, key=lambda r: (-r["uses_after_leaving"], r["credential_id"]))


def posture(engine: Engine, max_age_days: int = checks.DEFAULT_KEY_MAX_AGE_DAYS) -> dict:
    """All three lists as Python rows, plus ``now`` and notes about data that is not there."""
    now = data_now(engine)
    result: dict = {"now": now, "notes": [], "departed_custodians": None,
                    "departed_credentials": None, "stale_keys": None,
                    "key_max_age_days": max_age_days}
    if now is None:
        result["notes"].append("the workspace holds no access or issuance events, so there is no data-time 'now' to judge against")
        return result
    wanted = {
        "departed_custodians": (("keys", "key_custody", "workforce"), lambda: engine.to_arrow(
            checks.departed_custodians(engine, now).order_by(["terminated_at", "kid", "employee_id"])).to_pylist()),
        "departed_credentials": (("credentials", "workforce"), lambda: departed_live_credentials(engine, now)),
        "stale_keys": (("keys",), lambda: engine.to_arrow(
            checks.stale_keys(engine, now, max_age_days).order_by(["created_at", "kid"])).to_pylist()),
    }
    for name, (needs, build) in wanted.items():
        absent = [d for d in needs if not engine.has(d)]
        if absent:
            result["notes"].append(f"{name.replace('_', ' ')}: needs the {', '.join(absent)} dataset(s)")
            continue
        result[name] = build()
    return result
