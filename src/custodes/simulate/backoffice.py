"""Staff at work: customer-service agents in the back office, engineers' API keys, services.

All of it goes through the office NAT (staff) or the private network (services), so one
address carries many people's or many accounts' requests: look-alikes that a detector must
keep quiet about.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from custodes.simulate import catalog, network, records
from custodes.simulate.records import Coded
from custodes.simulate.clock import DAY, HOUR, MINUTE, US, weekday
from custodes.simulate.strings import hex_ids, mix64
from custodes.simulate.traffic import (
    SOURCE_SERVICE, token_ids,
)
from custodes.simulate.world import SCRIPT_AGENTS, SERVICE_KID, STAFF_BROWSER, Employee, World

#: Share of all customers who open a support ticket on a given day.
TICKET_RATE = 0.012
MIN_TICKETS_PER_AGENT = 4
NOTIFY_CAMPAIGN_SHARE = 0.06   # of all customers, per campaign; two campaigns a day
EXPORT_PAGE = 5_000            # records per page of the warehouse's nightly export
ROUTE_ARRAY = pa.array(catalog.ROUTE_NAMES)
ADMIN_ROUTES = [catalog.index("/admin/customers/{id}"), catalog.index("/admin/customers/{id}/orders")]


def tickets_per_agent(world: World) -> float:
    """Mean tickets an agent handles a day: the day's tickets shared among the agents."""
    return max(MIN_TICKETS_PER_AGENT, TICKET_RATE * len(world.customers) / len(world.teams["cs"]))


def pick_customers(world: World, rng: np.random.Generator, n: int) -> np.ndarray:
    """Customers who contact support, or get a push: the more active, the likelier."""
    cdf = world.customers.activity_cdf
    return np.minimum(np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right"), len(cdf) - 1)


def employee_reads(world: World, agents: list[Employee], who: np.ndarray, day: int, times: np.ndarray,
                   customers: np.ndarray, rng: np.random.Generator, salt: int = 0) -> pa.Table:
    """Back-office reads: read i is by ``agents[who[i]]`` at ``times[i]`` of ``customers[i]``.

    Each agent has one back-office session per day and ``salt`` (a second login, e.g. at night).
    """
    n = len(times)
    route = np.asarray(ADMIN_ROUTES, dtype=np.int32)[(rng.random(n) < 0.4).astype(np.int64)]
    indices = np.array([a.index for a in agents], dtype=np.uint64)
    sessions = hex_ids(mix64(world.seed, 41, indices, day, salt), prefix="bo_")
    ids = pa.array([a.employee_id for a in agents])
    size = (catalog.SIZES[route] * rng.lognormal(0, 0.3, n)).astype(np.int64)
    who = who.astype(np.int32)
    return records.table(
        "access", n, time=times, src_ip=Coded(who, pa.array([a.office_ip for a in agents])), user_agent=STAFF_BROWSER,
        device_id=Coded(who, pa.array([a.device_id for a in agents])), geo_country="KR",
        asn=network.OFFICE.asn, method="GET", route=Coded(route, ROUTE_ARRAY), status=200,
        bytes_out=size, actor_type="employee", actor_id=Coded(who, ids),
        account_id=world.customers.account_id.take(pa.array(customers)), record_count=1,
        credential_type="session", credential_id=Coded(who, sessions), session_id=Coded(who, sessions),
    )


def shift_times(rng: np.random.Generator, day_start: int, n: int, first_hour: float = 0.0,
                hours: float = 9.0) -> np.ndarray:
    """Sorted times within a working shift (KST 09:00-18:00 is 00:00-09:00 UTC)."""
    t = day_start + int(first_hour * HOUR) + (rng.random(n) * hours * HOUR).astype(np.int64)
    return np.sort(t)


def customer_service_day(world: World, day: int, rng: np.random.Generator,
                         excluded: set[str]) -> list[pa.Table]:
    """Every agent at work today handles tickets: one to a few record reads per ticket."""
    day_start = world.day_start(day)
    weekend = weekday(day_start) >= 5
    agents = [a for a in world.team("cs") if a.employee_id not in excluded and _at_work(a, day_start)]
    if weekend:  # a skeleton crew
        agents = [a for a, draw in zip(agents, rng.random(len(agents))) if draw < 0.3]
    tickets = rng.poisson(tickets_per_agent(world), len(agents))
    ticket_agent = np.repeat(np.arange(len(agents)), tickets)
    reads = 1 + rng.poisson(1.2, len(ticket_agent))
    customers = np.repeat(pick_customers(world, rng, len(ticket_agent)), reads)
    who = np.repeat(ticket_agent, reads)
    if not len(who):
        return []
    times = day_start + (rng.random(len(who)) * 9 * HOUR).astype(np.int64)
    order = np.argsort(times, kind="stable")
    return [employee_reads(world, agents, who[order], day, times[order], customers[order], rng)]


def _at_work(person: Employee, moment: int) -> bool:
    return person.hired_at <= moment and (person.terminated_at is None or person.terminated_at > moment + DAY)


def staff_key_day(world: World, day: int, rng: np.random.Generator) -> list[pa.Table]:
    """Engineers' API keys pull daily reports on working days while their owners work here."""
    day_start = world.day_start(day)
    if weekday(day_start) >= 5:
        return []
    owners = {e.employee_id: e for e in world.employees}
    out = []
    for slot, cred in enumerate(world.credentials):
        owner = owners.get(cred.owner_id)
        if cred.credential_type != "api_key" or owner is None or not _at_work(owner, day_start):
            continue
        if cred.revoked_at is not None and cred.revoked_at <= day_start + DAY:
            continue
        n = int(rng.integers(1, 5))
        times = shift_times(rng, day_start, n, first_hour=0.5, hours=8)
        out.append(records.table(
            "access", n, time=times,
            src_ip=owner.office_ip, user_agent=SCRIPT_AGENTS[slot % 2], geo_country="KR",
            asn=network.OFFICE.asn, method="GET", route="/admin/reports/daily", status=200,
            bytes_out=(catalog.SIZES[catalog.index("/admin/reports/daily")] * rng.lognormal(0, 0.2, n)).astype(np.int64),
            actor_type="employee", actor_id=owner.employee_id, credential_type="api_key",
            credential_id=cred.credential_id,
        ))
    return out


def notification_day(world: World, day: int, rng: np.random.Generator) -> tuple[pa.Table, pa.Table]:
    """The notification service: hourly client-credentials tokens; two push campaigns a day,
    each reading the contact details of a slice of all customers from one internal address."""
    service = world.services["notification-service"]
    day_start = world.day_start(day)
    iat = day_start + np.arange(24, dtype=np.int64) * HOUR + 2 * US
    jti = token_ids(world.seed, SOURCE_SERVICE, day, 24)
    issued = records.table(
        "issuance", 24, time=iat, token_id=jti, kid=SERVICE_KID, subject=service.name,
        actor_type="service", client_id=service.name, grant="client_credentials", iat=iat,
        exp=iat + HOUR, src_ip=service.src_ip,
    )
    per_campaign = max(1, int(len(world.customers) * NOTIFY_CAMPAIGN_SHARE))
    customers = np.concatenate([pick_customers(world, rng, per_campaign) for _ in range(2)])
    # 10:00 and 19:00 KST, each run spread over about forty minutes.
    begin = np.repeat(np.array([1, 10]) * HOUR + day_start, per_campaign)
    times = np.sort(begin + (rng.random(2 * per_campaign) * 40 * MINUTE).astype(np.int64))
    token = (times - day_start) // HOUR
    n = len(times)
    access = records.table(
        "access", n, time=times, src_ip=service.src_ip, user_agent=service.user_agent, method="GET",
        route="/internal/v1/customers/{id}/contact", status=200,
        bytes_out=(600 * rng.lognormal(0, 0.1, n)).astype(np.int64), actor_type="service",
        actor_id=service.name, account_id=world.customers.account_id.take(pa.array(customers)),
        record_count=1, credential_type="access_token", credential_id=jti.take(pa.array(token)),
        token_kid=SERVICE_KID, token_iat=iat[token], token_exp=iat[token] + HOUR,
    )
    return access, issued


def warehouse_day(world: World, day: int, rng: np.random.Generator) -> pa.Table:
    """The data warehouse's nightly full export (03:00 KST): a legitimate bulk reader."""
    service = world.services["warehouse-sync"]
    total = len(world.customers)
    pages = -(-total // EXPORT_PAGE)
    counts = np.full(pages, EXPORT_PAGE, dtype=np.int64)
    counts[-1] = total - EXPORT_PAGE * (pages - 1)
    times = world.day_start(day) + 18 * HOUR + np.cumsum(rng.integers(2, 9, pages)) * US * 1000
    return records.table(
        "access", pages, time=times.astype(np.int64),
        src_ip=service.src_ip, user_agent=service.user_agent, method="GET",
        route="/admin/export/customers", status=200, bytes_out=counts * 180, actor_type="service",
        actor_id=service.name, record_count=counts, credential_type="api_key",
        credential_id=service.credential_id,
    )
