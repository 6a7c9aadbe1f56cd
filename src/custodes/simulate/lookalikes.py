"""The benign look-alikes, as ground truth describes them.

Each is something real platforms do that resembles an attack: detectors are scored on staying
quiet about them. The mechanics live where the traffic is made (traffic.py, backoffice.py,
world.py); this module names them and their entities for ``ground_truth.json``.
"""

from __future__ import annotations

from custodes.simulate import network, traffic
from custodes.simulate.clock import DAY, rfc3339
from custodes.simulate.scenarios.base import entities
from custodes.simulate.world import SERVICE_KID, WEB_KID_NEW, WEB_KID_OLD, World


def lookalikes(world: World, lost_token_ids: list[str], late_rows: int, skewed_rows: int,
               travel_rows: int) -> list[dict]:
    if not world.benign:
        return []
    start, end = rfc3339(world.start), rfc3339(world.end)
    employees = {e.employee_id: e for e in world.employees}
    leavers = sorted(e.employee_id for e in world.employees
                     if e.terminated_at is not None and e.terminated_at <= world.end)
    revoked = sorted(c.credential_id for c in world.credentials
                     if c.revoked_at is not None and c.owner_id in employees)
    future = sorted(e.employee_id for e in world.employees
                    if e.terminated_at is not None and e.terminated_at > world.end)
    rotated_leaver = world.team("identity")[2]
    notify, sync = world.services["notification-service"], world.services["warehouse-sync"]
    out = [
        _entry("carrier_nat", "Mobile carriers' NAT addresses, each shared by thousands of customers",
               start, end, src_ip=world.carrier_nat_ip.to_pylist(), details={
                   "addresses": len(world.carrier_nat_ip),
                   "asns": sorted({int(a) for a in world.carrier_nat_asn})}),
        _entry("office_nat", "Every employee's traffic leaves the head office through one address",
               start, end, src_ip=[network.OFFICE_NAT_IP]),
        _entry("notification_service", "A push service reads the contact details of many accounts twice a day",
               start, end, src_ip=[notify.src_ip], actor_id=[notify.name], kid=[SERVICE_KID]),
        _entry("warehouse_export", "The data warehouse pulls the full customer export every night",
               start, end, src_ip=[sync.src_ip], actor_id=[sync.name], credential_id=[sync.credential_id]),
        _entry("key_rotation", "Web tokens move to a new signing key; one auth node keeps the old one "
               "for half a day; the old key is retired a day later", rfc3339(world.rotation_at),
               rfc3339(world.rotation_at + DAY), kid=[WEB_KID_OLD, WEB_KID_NEW], details={
                   "rotated_at": rfc3339(world.rotation_at),
                   "old_key_retired_at": rfc3339(world.key(WEB_KID_OLD).retired_at),
                   "stagger_hours": traffic.ROTATION_STAGGER // (3600 * 10**6)}),
        _entry("rotated_custodian_leaver", "A custodian of the web key left before it was rotated",
               rfc3339(rotated_leaver.terminated_at), rfc3339(world.rotation_at),
               employee_id=[rotated_leaver.employee_id], kid=[WEB_KID_OLD]),
        _entry("revoked_leavers", "People who left, whose credentials were revoked when they left",
               start, end, employee_id=leavers, credential_id=revoked),
        _entry("future_dated_leavers", "HR exported terminations dated after the window",
               start, end, employee_id=future),
        _entry("issuance_loss", "A few issuance rows never reached the log (each token was really issued "
               "and is used by its own subject from their usual device)", start, end,
               credential_id=lost_token_ids, details={"tokens": len(lost_token_ids),
                                                      "share": traffic.ISSUANCE_LOSS}),
        _entry("clock_skew", "One gateway node's clock runs behind", start, end, details={
            "skew_seconds": traffic.CLOCK_SKEW / 1e6, "rows": skewed_rows,
            "share": traffic.SKEWED_NODE_SHARE}),
        _entry("late_events", "Rows of day d written into day d+1's file (sessions shipped late, and the slow clock's first minute)", start, end,
               details={"rows": late_rows}),
        _entry("travellers", "Customers using the app abroad", start, end,
               details={"rows": travel_rows}),
    ]
    return out


def _entry(name: str, description: str, start: str | None, end: str | None, details: dict | None = None,
           **indicators: list[str]) -> dict:
    return {"name": name, "description": description, "start": start, "end": end,
            "indicators": entities(**indicators), "details": details or {}}
