"""Credential posture, judged in data time: what a departed insider could still use.

Three questions, each one Ibis expression over the lake so it runs on DuckDB and Spark alike:

- signing keys still accepted whose custodians have left since the key was created (they could
  have copied it, and it was never rotated after them);
- long-lived credentials of departed staff that still work (neither revoked nor expired), with
  how often each was used after its owner left;
- signing keys that are past their rotation age or kept in a plain file (not HSM/KMS/vault).

"Now" is the latest access event ingested, never the wall clock (CONTRACT.md, data time).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import ibis

from custodes.ids import key_of

if TYPE_CHECKING:
    from custodes.engine import Engine

DEFAULT_KEY_MAX_AGE_DAYS = 365


def data_now(engine: Engine) -> dt.datetime | None:
    """The latest event time the workspace holds (access, else issuance); None when it holds none."""
    for dataset in ("access", "issuance"):
        if engine.has(dataset):
            t = engine.table(dataset)
            value = engine.to_arrow(t.aggregate(now=t.time.max())).column("now")[0].as_py()
            if value is not None:
                return value
    return None


def _live_at(expr_time, now):
    """True where a cut-off time (retired_at, revoked_at, expires_at) has not come yet at ``now``."""
    return expr_time.isnull() | (expr_time > now)


def _contract(engine: Engine, dataset: str) -> ibis.Table:
    """The dataset's contract columns only (the lake's own columns would collide in joins)."""
    from custodes.contract import columns

    table = engine.table(dataset)
    return table.select([c.name for c in columns(dataset) if c.name in table.columns])


def departed(workforce: ibis.Table, now: dt.datetime) -> ibis.Table:
    gone = workforce.filter(workforce.terminated_at.notnull() & (workforce.terminated_at <= now))
    return gone.select("employee_id", "terminated_at")


def keys_with_departed_custodians(engine: Engine, now: dt.datetime) -> ibis.Table:
    keys, custody = _contract(engine, "keys"), _contract(engine, "key_custody")
    gone = departed(_contract(engine, "workforce"), now)
    live_keys = keys.filter(_live_at(keys.retired_at, now))
    held = custody.join(gone, custody.employee_id == gone.employee_id)
    # They held it at some point before leaving, and the key predates their leaving: not rotated.
    held = held.filter(held.granted_at <= held.terminated_at)
    joined = live_keys.join(held, live_keys.kid == held.kid)
    joined = joined.filter(joined.created_at < joined.terminated_at)
    return joined.select(
        kid=joined.kid, alg=joined.alg, storage=joined.storage, key_created_at=joined.created_at,
        employee_id=joined.employee_id, terminated_at=joined.terminated_at,
        custody_revoked_at=joined.revoked_at,
    ).order_by(["terminated_at", "kid", "employee_id"])


def departed_live_credentials(engine: Engine, now: dt.datetime) -> list[dict]:
    """Departed owners' live credentials, with their use after the owner left.

    Two steps: the (few) live credentials of departed staff first, then one pass over access
    filtered on their 64-bit ``credential_id_key`` (integers, not strings)."""
    creds = _contract(engine, "credentials")
    gone = departed(_contract(engine, "workforce"), now)
    live = creds.filter(_live_at(creds.revoked_at, now) & _live_at(creds.expires_at, now))
    joined = live.join(gone, live.owner_id == gone.employee_id)
    rows = engine.to_arrow(joined.select(
        "credential_id", "credential_type", "owner_id", "terminated_at", "created_at", "expires_at",
    ).order_by(["terminated_at", "credential_id"])).to_pylist()
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


def stale_keys(engine: Engine, now: dt.datetime, max_age_days: int) -> ibis.Table:
    keys = _contract(engine, "keys")
    cutoff = now - dt.timedelta(days=max_age_days)
    live = keys.filter(_live_at(keys.retired_at, now) & (keys.created_at <= now))
    flagged = live.filter((live.created_at < cutoff) | (live.storage == "file") | live.storage.isnull())
    return flagged.select("kid", "alg", "purpose", "storage", "created_at").order_by(["created_at", "kid"])


def posture(engine: Engine, max_age_days: int = DEFAULT_KEY_MAX_AGE_DAYS) -> dict:
    """All three lists as Python rows, plus ``now`` and notes about data that is not there."""
    now = data_now(engine)
    result: dict = {"now": now, "notes": [], "departed_custodians": None,
                    "departed_credentials": None, "stale_keys": None,
                    "key_max_age_days": max_age_days}
    if now is None:
        result["notes"].append("the workspace holds no access or issuance events, so there is no data-time 'now' to judge against")
        return result
    wanted = {
        "departed_custodians": (("keys", "key_custody", "workforce"), keys_with_departed_custodians),
        "departed_credentials": (("credentials", "workforce"), departed_live_credentials),
        "stale_keys": (("keys",), lambda e, n: stale_keys(e, n, max_age_days)),
    }
    for name, (needs, build) in wanted.items():
        absent = [d for d in needs if not engine.has(d)]
        if absent:
            result["notes"].append(f"{name.replace('_', ' ')}: needs the {', '.join(absent)} dataset(s)")
            continue
        built = build(engine, now)
        result[name] = built if isinstance(built, list) else engine.to_arrow(built).to_pylist()
    return result
