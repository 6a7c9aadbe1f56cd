"""Credential posture, written once: what a departed insider could still use, at data-time now.

Three checks, each one Ibis expression over the reference datasets, so that they run on DuckDB
and Spark alike and so that the posture rules (``key.departed_custodian``,
``credential.departed_still_valid``, ``key.posture``), the console's posture page and
offboarding judge the same way:

- :func:`departed_custodians`: signing keys still trusted at now, one of whose custodians left
  after the key was created (whatever they copied still signs; the key was never rotated after
  them);
- :func:`departed_credentials`: long-lived credentials of departed staff, neither revoked nor
  expired at now;
- :func:`stale_keys`: signing keys trusted at now that are older than the rotation policy, kept
  in a plain file, or whose storage is not recorded.

``source`` is anything with ``.table(dataset)``: an engine, or a rule's context. ``now`` is the
workspace's data-time now (:func:`custodes.detect.lakefacts.data_now`), never the wall clock: a
creation, termination, revocation, expiry or retirement dated after it has not happened yet.

NULL storage: the ``storage`` column is optional in the contract (``hsm``, ``kms``, ``vault`` or
``file``). A key whose storage is not recorded is not known to be in an HSM, a KMS or a vault,
so it is flagged, as a gap in the key inventory (low, like age), never taken as protected.
"""

from __future__ import annotations

import datetime as dt

import ibis

from custodes.detect.rule import lit_time
from custodes.errors import CustodesError
from custodes.workspace import Workspace

DEFAULT_KEY_MAX_AGE_DAYS = 365
#: the rotation age in custodes.yaml, and the name the console read before (deprecated alias)
KEY_MAX_AGE_SETTING = "detect.key_max_age_days"
KEY_MAX_AGE_ALIAS = "posture.key_max_age_days"


def key_max_age_days(workspace: Workspace) -> int:
    """The rotation age, from ``detect.key_max_age_days`` or its deprecated alias
    ``posture.key_max_age_days``; both set to different values is an error (the findings and
    the page once read one each: the operator must say which was meant)."""
    value = workspace.setting(KEY_MAX_AGE_SETTING, None)
    alias = workspace.setting(KEY_MAX_AGE_ALIAS, None)
    if value is not None and alias is not None and value != alias:
        raise CustodesError(f"custodes.yaml: {KEY_MAX_AGE_SETTING} ({value!r}) and its deprecated alias "
                            f"{KEY_MAX_AGE_ALIAS} ({alias!r}) differ; keep {KEY_MAX_AGE_SETTING} only")
    name, chosen = (KEY_MAX_AGE_SETTING, value) if value is not None else (KEY_MAX_AGE_ALIAS, alias)
    return checked_max_age(DEFAULT_KEY_MAX_AGE_DAYS if chosen is None else chosen, name)


def checked_max_age(value, name: str = KEY_MAX_AGE_SETTING) -> int:
    """A rotation age as set: a whole number of days, 1 or more (YAML's true is not 1)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise CustodesError(f"custodes.yaml: {name} must be a whole number of days, 1 or more, not {value!r}")
    return value


def detect_settings(workspace: Workspace) -> dict:
    """The ``detect`` section of custodes.yaml, with the rotation age resolved (alias included)."""
    config = dict(workspace.setting("detect", {}) or {})
    config["key_max_age_days"] = key_max_age_days(workspace)
    return config


def live(cutoff: ibis.Value, now: dt.datetime) -> ibis.BooleanValue:
    """A cut-off (retired_at, revoked_at, expires_at) that has not come yet at ``now``."""
    return cutoff.isnull() | (cutoff > lit_time(now))


def departed(source, now: dt.datetime) -> ibis.Table:
    """Staff whose termination has come at ``now``: employee_id, terminated_at."""
    w = source.table("workforce")
    w = w.filter(w.terminated_at.notnull() & (w.terminated_at <= lit_time(now)))
    return w.select("employee_id", "terminated_at")


def live_keys(source, now: dt.datetime) -> ibis.Table:
    """Signing keys that exist and are still trusted at ``now`` (a scheduled retirement included)."""
    k = source.table("keys")
    k = k.filter((k.created_at <= lit_time(now)) & live(k.retired_at, now))
    return k.select("kid", "alg", "purpose", "storage", "created_at", "retired_at")


def still_valid(credentials: ibis.Table, now: dt.datetime) -> ibis.BooleanValue:
    """Neither revoked nor expired at ``now``."""
    return live(credentials.revoked_at, now) & live(credentials.expires_at, now)


def departed_custodians(source, now: dt.datetime) -> ibis.Table:
    """One row per (key, departed custodian): kid, alg, storage, key_created_at, employee_id,
    terminated_at, rotation_started (a retirement is scheduled), custody_revoked_at (the latest
    end of their custody; NULL while any grant of it is open)."""
    k = live_keys(source, now)
    keys = k.select("kid", "alg", "storage", key_created_at=k.created_at, rotation_started=k.retired_at.notnull())
    c = source.table("key_custody").select("kid", "employee_id", "granted_at", "revoked_at")
    j = keys.inner_join(c, "kid").inner_join(departed(source, now), "employee_id")
    # They held it at some point before leaving, and it predates their leaving: not rotated since.
    j = j.filter((j.granted_at <= j.terminated_at) & (j.key_created_at < j.terminated_at))
    per = j.group_by(["kid", "employee_id", "alg", "storage", "key_created_at", "rotation_started",
                      "terminated_at"]).aggregate(
        grants=j.count(), ended=j.revoked_at.count(), last_end=j.revoked_at.max())
    return per.select(
        "kid", "alg", "storage", "key_created_at", "employee_id", "terminated_at", "rotation_started",
        custody_revoked_at=ibis.ifelse(per.ended == per.grants, per.last_end, ibis.null(per.last_end.type())))


def departed_credentials(source, now: dt.datetime) -> ibis.Table:
    """Credentials of departed staff that exist, unrevoked and unexpired, at ``now``:
    credential_id, credential_type, owner_id, terminated_at, created_at, expires_at."""
    c = source.table("credentials")
    c = c.filter((c.created_at <= lit_time(now)) & still_valid(c, now))
    c = c.select("credential_id", "credential_type", "created_at", "expires_at", employee_id=c.owner_id)
    j = c.inner_join(departed(source, now), "employee_id")
    return j.select("credential_id", "credential_type", "created_at", "expires_at", "terminated_at",
                    owner_id=j.employee_id)


def stale_keys(source, now: dt.datetime, max_age_days: int) -> ibis.Table:
    """Keys trusted at ``now`` that are too old, in a file, or of unrecorded storage: kid, alg,
    purpose, storage, created_at, age_days, too_old, in_file, storage_unknown."""
    k = live_keys(source, now)
    k = k.mutate(too_old=k.created_at < lit_time(now - dt.timedelta(days=max_age_days)),
                 in_file=(k.storage == "file").fill_null(False), storage_unknown=k.storage.isnull(),
                 age_days=days_since(k.created_at, now))
    k = k.filter(k.too_old | k.in_file | k.storage_unknown)
    return k.select("kid", "alg", "purpose", "storage", "created_at", "age_days", "too_old", "in_file",
                    "storage_unknown")


def days_since(then: ibis.Value, now: dt.datetime) -> ibis.IntegerValue:
    """Whole days from ``then`` to ``now``."""
    return (lit_time(now).epoch_seconds() - then.epoch_seconds()) // 86400
