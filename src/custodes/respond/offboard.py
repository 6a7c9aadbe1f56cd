"""Offboarding: what must be revoked, rotated and ended when a person leaves (or is contained).

The plan is computed in data time (the workspace's "now" is the latest access event): a credential
revoked, or a key retired, at a later time has not been yet. ``apply`` records the plan in the
workspace and pushes revocations to the guard's ledger when one is configured.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import ibis

from custodes.clikit import dumps
from custodes.detect import lakefacts, posture
from custodes.errors import CustodesError
from custodes.ids import key_of
from custodes.respond.selector import optional_table
from custodes.timefmt import iso
from custodes.workspace import Workspace, atomic_write_bytes, private_dir

if TYPE_CHECKING:
    from custodes.engine import Engine

#: how far back "recent" use of a key or a session is counted
RECENT = dt.timedelta(days=7)


@dataclass
class OffboardPlan:
    employee_id: str
    name: str | None
    terminated_at: dt.datetime | None
    as_of: dt.datetime
    credentials: list[dict] = field(default_factory=list)   # to revoke
    already_revoked: list[str] = field(default_factory=list)
    keys: list[dict] = field(default_factory=list)          # to rotate
    sessions: list[str] = field(default_factory=list)       # to end
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)

    @property
    def empty(self) -> bool:
        return not (self.credentials or self.keys or self.sessions)


def data_now(engine: Engine) -> dt.datetime:
    """The workspace's data-time now (:func:`custodes.detect.lakefacts.data_now`); an error
    when it holds no event to judge by."""
    now = lakefacts.data_now(engine)
    if now is None:
        raise CustodesError("the workspace holds no access or issuance events, so it has no data time; ingest them first")
    return now


def plan(engine: Engine, workspace: Workspace, employee_id: str) -> OffboardPlan:
    workforce = optional_table(engine, "workforce")
    if workforce is None:
        raise CustodesError("the workspace holds no workforce data; run `custodes ingest workforce PATH` first")
    person = engine.to_arrow(workforce.filter(workforce.employee_id == employee_id)).to_pylist()
    if not person:
        raise CustodesError(f"unknown employee {employee_id!r}: not in workforce")
    now = data_now(engine)
    result = OffboardPlan(employee_id, person[0].get("name"), person[0].get("terminated_at"), now)
    _credentials(engine, result)
    _keys(engine, result)
    _sessions(engine, result)
    return result


def _credentials(engine: Engine, result: OffboardPlan) -> None:
    creds = optional_table(engine, "credentials")
    if creds is None:
        result.notes.append("no credentials dataset: long-lived credentials not checked")
        return
    mine = creds.filter(creds.owner_id == result.employee_id)
    # Every credential of theirs still valid at now, also one created after now (the inventory
    # may run ahead of the logs): what the posture flags for a departed owner, and more.
    mine = mine.mutate(valid=posture.still_valid(mine, result.as_of))
    rows = engine.to_arrow(mine.select("credential_id", "credential_type", "created_at", "expires_at", "revoked_at",
                                       "valid").order_by("credential_id")).to_pylist()
    usage = _credential_usage(engine, [r["credential_id"] for r in rows], result.terminated_at)
    for r in rows:
        if not r.pop("valid"):
            result.already_revoked.append(r["credential_id"])
            continue
        r.update(usage.get(key_of(r["credential_id"]), {"requests": 0, "last_used": None, "requests_after_termination": 0}))
        result.credentials.append(r)


def _credential_usage(engine: Engine, credential_ids: list[str], terminated_at) -> dict[int, dict]:
    access = optional_table(engine, "access")
    if access is None or not credential_ids:
        return {}
    t = access.filter(access.credential_id_key.isin([key_of(c) for c in credential_ids]))
    after = (t.time >= terminated_at) if terminated_at is not None else ibis.literal(False)
    agg = t.group_by(k=t.credential_id_key).aggregate(
        requests=t.count(), last_used=t.time.max(), requests_after_termination=ibis.ifelse(after, 1, 0).sum())
    return {r.pop("k"): r for r in engine.to_arrow(agg).to_pylist()}


def _keys(engine: Engine, result: OffboardPlan) -> None:
    custody, keys = optional_table(engine, "key_custody"), optional_table(engine, "keys")
    if custody is None or keys is None:
        result.notes.append("no keys/key_custody dataset: signing keys not checked")
        return
    now = result.as_of
    held = custody.filter((custody.employee_id == result.employee_id) & (custody.granted_at <= now))
    live = keys.filter(posture.live(keys.retired_at, now))
    joined = held.join(live, "kid").select("kid", "alg", "purpose", "storage", "granted_at",
                                           custody_revoked_at=held.revoked_at, key_created_at=live.created_at)
    rows = engine.to_arrow(joined.order_by("kid")).to_pylist()
    counts = _key_token_counts(engine, [r["kid"] for r in rows], now)
    for r in rows:
        r.update(counts.get(r["kid"], {}))
        result.keys.append(r)


def _key_token_counts(engine: Engine, kids: list[str], now: dt.datetime) -> dict[str, dict]:
    """Per key: tokens it signed that are still valid (issuance), and tokens seen at the edge lately,
    of which how many the authorization server never issued."""
    out: dict[str, dict] = {k: {"live_issued_tokens": None, "tokens_seen_7d": None, "unissued_tokens_seen": None} for k in kids}
    if not kids:
        return out
    issuance, access = optional_table(engine, "issuance"), optional_table(engine, "access")
    if issuance is not None:
        i = issuance.filter(issuance.kid.isin(kids) & (issuance.exp > now))
        for r in engine.to_arrow(i.group_by("kid").aggregate(n=i.count())).to_pylist():
            out[r["kid"]]["live_issued_tokens"] = int(r["n"])
        for k in kids:
            out[k]["live_issued_tokens"] = out[k]["live_issued_tokens"] or 0
    if access is not None:
        a = access.filter(access.token_kid.isin(kids) & (access.time > now - RECENT) & access.credential_id_key.notnull())
        tokens = a.select(kid=a.token_kid, tok=a.credential_id_key).distinct()
        metrics = {"seen": tokens.count()}
        if issuance is not None:
            metrics["unissued"] = ibis.ifelse(tokens.tok.isin(issuance.token_id_key), 0, 1).sum()
        for r in engine.to_arrow(tokens.group_by("kid").aggregate(**metrics)).to_pylist():
            out[r["kid"]]["tokens_seen_7d"] = int(r["seen"])
            if "unissued" in r:
                out[r["kid"]]["unissued_tokens_seen"] = int(r["unissued"])
    return out


def _sessions(engine: Engine, result: OffboardPlan) -> None:
    now, sessions = result.as_of, set()
    issuance, access = optional_table(engine, "issuance"), optional_table(engine, "access")
    if issuance is not None:
        live = issuance.filter((issuance.subject == result.employee_id) & (issuance.exp > now)
                               & issuance.session_id.notnull())
        sessions |= set(engine.to_arrow(live.select("session_id").distinct()).column("session_id").to_pylist())
    if access is not None:
        mine = access.filter((access.actor_id_key == key_of(result.employee_id)) & (access.time > now - RECENT)
                             & access.session_id.notnull())
        sessions |= set(engine.to_arrow(mine.select("session_id").distinct()).column("session_id").to_pylist())
    result.sessions = sorted(sessions)


# Applying it --------------------------------------------------------------------------------
def revocations(p: OffboardPlan, revoke_keys: bool) -> list[dict]:
    """The ledger calls the plan implies: the person's subject (ends their sessions and tokens),
    each credential, and, only when asked, each key (a key revocation rejects every token it
    signed, so it belongs after the replacement key is serving)."""
    calls = [{"sub": p.employee_id}] + [{"jti": c["credential_id"]} for c in p.credentials]
    if revoke_keys:
        calls += [{"kid": k["kid"]} for k in p.keys]
    return calls


def apply(workspace: Workspace, p: OffboardPlan, ledger=None, revoke_keys: bool = False, by: str | None = None) -> dict:
    """Record the plan (respond/offboard/<employee>-<time>.json, 0600) and push its revocations
    to ``ledger`` (an object with ``revoke(jti=, sub=, kid=)``) when given."""
    calls = revocations(p, revoke_keys)
    pushed = []
    if ledger is not None:
        for call in calls:
            ledger.revoke(**call)
            pushed.append(call)
    applied_at = dt.datetime.now(dt.timezone.utc)
    record = {"applied_at": iso(applied_at), "by": by or getpass.getuser(), "plan": p.to_json(),
              "revocations": calls, "pushed_to_ledger": bool(ledger is not None), "pushed": pushed}
    folder = private_dir(workspace.respond / "offboard")
    path = folder / f"{_safe(p.employee_id)}-{applied_at.strftime('%Y%m%dT%H%M%S%fZ')}.json"
    atomic_write_bytes(path, dumps(record).encode())
    from custodes.respond.audit import audit

    audit(workspace, "offboard_apply", by=record["by"], employee_id=p.employee_id, path=str(path),
          revocations=len(calls), pushed=len(pushed))
    record["path"] = str(path)
    return record


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:80] or "employee"


def load_records(workspace: Workspace) -> list[dict]:
    folder = workspace.respond / "offboard"
    if not folder.is_dir():
        return []
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
