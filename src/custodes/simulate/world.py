"""The simulated platform's entities: customers, devices, staff, services, keys, credentials.

Everything here is drawn once per seed and then read by the day generators. Customers are
held as columns (NumPy and Arrow arrays, one entry per customer) so that a day's traffic is a
handful of array gathers; staff, services and keys are few and held as small records.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from custodes.simulate import network
from custodes.simulate.clock import DAY, HOUR
from custodes.simulate.people import people
from custodes.simulate.strings import hex_ids, mix64, numbered
from custodes.timefmt import epoch_us

DEFAULT_START = dt.datetime(2025, 2, 3, tzinfo=dt.timezone.utc)  # a Monday


@dataclass(frozen=True)
class DeviceKind:
    name: str
    platform: str       # "app" or "web": decides the signing key and the OAuth client
    client_id: str
    share: float        # of customers
    mobile_share: float  # of sessions that go out through a carrier NAT
    user_agents: tuple[str, ...]


#: Customers' devices (behaviour as a table). The first user agent of each app is the current
#: release, which most customers run and which a forger copies.
DEVICE_KINDS: tuple[DeviceKind, ...] = (
    DeviceKind("ios_app", "app", "shop-ios", 0.36, 0.55, (
        "ShopApp/7.12.0 (iPhone15,2; iOS 17.5.1; Scale/3.00)",
        "ShopApp/7.12.0 (iPhone14,5; iOS 17.4.1; Scale/3.00)",
        "ShopApp/7.11.2 (iPhone13,2; iOS 16.7.8; Scale/3.00)",
    )),
    DeviceKind("android_app", "app", "shop-android", 0.38, 0.6, (
        "ShopApp/7.12.0 (Android 14; SM-S918N; Build/UP1A.231005.007)",
        "ShopApp/7.12.0 (Android 13; SM-A536N; Build/TP1A.220624.014)",
        "ShopApp/7.11.2 (Android 14; SM-S911N; Build/UP1A.231005.007)",
    )),
    DeviceKind("desktop_web", "web", "shop-web", 0.16, 0.02, (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
    )),
    DeviceKind("mobile_web", "web", "shop-web", 0.10, 0.7, (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; SM-S918N) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
    )),
)
USER_AGENTS: tuple[str, ...] = tuple(ua for kind in DEVICE_KINDS for ua in kind.user_agents)
UA_OFFSET = np.cumsum([0] + [len(k.user_agents) for k in DEVICE_KINDS])[:-1]
STAFF_BROWSER = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                 "Chrome/124.0.0.0 Safari/537.36")
SCRIPT_AGENTS = ("python-requests/2.31.0", "curl/8.5.0")

#: Signing keys: app tokens have been signed by one file-stored key since 2020 (the weak spot);
#: web tokens by a KMS key that is rotated, with overlap, during the simulated window.
APP_KID = "app-at-2020-03"
WEB_KID_OLD = "web-at-2024-01"
WEB_KID_NEW = "web-at-2025-r2"
SERVICE_KID = "svc-cc-2024-06"
ACCESS_TOKEN_LIFETIME = HOUR


@dataclass(frozen=True)
class Team:
    name: str
    department: str
    role: str
    size: int


@dataclass
class Employee:
    index: int
    employee_id: str
    name: str
    team: str
    department: str
    role: str
    manager_id: str | None
    hired_at: int
    terminated_at: int | None = None
    device_id: str = ""
    office_ip: str = network.OFFICE_NAT_IP


@dataclass
class Credential:
    credential_id: str
    credential_type: str
    owner_id: str
    created_at: int
    expires_at: int | None = None
    revoked_at: int | None = None
    scopes: str = ""


@dataclass
class Key:
    kid: str
    alg: str
    purpose: str
    storage: str
    created_at: int
    retired_at: int | None = None


@dataclass
class Custody:
    kid: str
    employee_id: str
    granted_at: int
    revoked_at: int | None = None


@dataclass
class Service:
    name: str
    src_ip: str
    user_agent: str
    credential_id: str | None = None  # a long-lived key; None for client-credentials tokens


@dataclass
class Customers:
    """One entry per customer account, as columns."""

    account_id: pa.Array
    device_kind: np.ndarray   # index into DEVICE_KINDS
    user_agent: np.ndarray    # index into USER_AGENTS
    device_id: pa.Array
    home_ip: pa.Array         # where the customer's home broadband comes out
    home_asn: np.ndarray
    p_active: np.ndarray      # chance of a session on a given day
    intensity: np.ndarray     # scale of requests per session (heavy-tailed)
    mobile_share: np.ndarray  # chance a session goes through a carrier NAT
    contact: dict[str, pa.Array]

    @functools.cached_property
    def activity_cdf(self) -> np.ndarray:
        """Running total of activity: draws customers in proportion to how active they are."""
        return np.cumsum(self.p_active, dtype=np.float64)

    def __len__(self) -> int:
        return len(self.account_id)


@dataclass
class World:
    seed: int
    start: int          # µs, midnight UTC of day 0
    days: int
    customers: Customers
    carrier_nat_ip: pa.Array
    carrier_nat_asn: np.ndarray
    employees: list[Employee]
    teams: dict[str, list[int]]
    credentials: list[Credential]
    keys: list[Key]
    custody: list[Custody]
    services: dict[str, Service]
    rotation_at: int    # when web tokens switch to the new key
    benign: bool = True  # the benign look-alikes are on (see lookalikes.py)

    @property
    def end(self) -> int:
        return self.start + self.days * DAY

    def day_start(self, day: int) -> int:
        return self.start + day * DAY

    def at(self, fraction: float, hour: float = 0.0) -> int:
        """The moment ``fraction`` of the way through the window, on a day boundary, plus hours."""
        day = int(round(fraction * self.days))
        return self.day_start(min(max(day, 0), self.days - 1)) + int(hour * HOUR)

    def team(self, name: str) -> list[Employee]:
        return [self.employees[i] for i in self.teams[name]]

    def employed_mask(self, team: str, moment: int) -> np.ndarray:
        members = self.team(team)
        return np.array([e.hired_at <= moment and (e.terminated_at is None or e.terminated_at > moment)
                         for e in members], dtype=bool)

    def key(self, kid: str) -> Key:
        return next(k for k in self.keys if k.kid == kid)

    def credential(self, credential_id: str) -> Credential:
        return next(c for c in self.credentials if c.credential_id == credential_id)


def rng_for(seed: int, *stream: int) -> np.random.Generator:
    """An independent random stream per (seed, purpose, day, ...): days can run in any order."""
    return np.random.default_rng([seed & 0xFFFFFFFF, *stream])


# Stream numbers, so that adding a stream never shifts another's numbers.
STREAM_CUSTOMERS, STREAM_STAFF, STREAM_CARRIER = 1, 2, 3


def build_world(customers: int, days: int, seed: int, start: dt.datetime = DEFAULT_START,
                lookalikes: bool = True) -> World:
    start_us = epoch_us(start.replace(hour=0, minute=0, second=0, microsecond=0))
    world_customers = _customers(rng_for(seed, STREAM_CUSTOMERS), customers, seed)
    nat_ip, nat_asn = _carrier_nat(rng_for(seed, STREAM_CARRIER), customers)
    rng = rng_for(seed, STREAM_STAFF)
    employees, teams = _workforce(rng, customers, start_us, days)
    world = World(
        seed=seed, start=start_us, days=days, customers=world_customers,
        carrier_nat_ip=nat_ip, carrier_nat_asn=nat_asn, employees=employees, teams=teams,
        credentials=[], keys=[], custody=[], services={},
        rotation_at=start_us + max(1, int(round(days * 0.45))) * DAY + HOUR, benign=lookalikes,
    )
    if lookalikes:
        _leavers(world, rng)
    else:
        _without_lookalikes(world)
    _keys_and_custody(world)
    _credentials(world, rng)
    _services(world)
    return world


def _customers(rng: np.random.Generator, n: int, seed: int) -> Customers:
    shares = np.array([k.share for k in DEVICE_KINDS])
    kind = rng.choice(len(DEVICE_KINDS), size=n, p=shares / shares.sum())
    counts = np.array([len(k.user_agents) for k in DEVICE_KINDS])
    # Most run the current release; older versions linger.
    ua_rank = np.minimum(rng.geometric(0.55, size=n) - 1, counts[kind] - 1)
    ua = UA_OFFSET[kind] + ua_rank
    v6 = rng.random(n) < 0.12
    v4_text, v4_block, _ = network.draw_ipv4(rng, network.DOMESTIC, n)
    v6_text, v6_block = network.draw_ipv6(rng, network.DOMESTIC_V6, n)
    asn4 = np.array([b.asn for b in network.DOMESTIC])[v4_block]
    asn6 = np.array([b.asn for b in network.DOMESTIC_V6])[v6_block]
    home_ip = pc.if_else(pa.array(v6), v6_text, v4_text)
    # Activity: a minority of heavy shoppers, a long tail of occasional ones.
    p_active = np.clip(rng.beta(0.7, 2.2, size=n), 0.01, 0.95)
    intensity = np.clip(rng.lognormal(0.0, 0.6, size=n), 0.2, 8.0)
    mobile = np.array([k.mobile_share for k in DEVICE_KINDS])[kind]
    device_words = np.stack([mix64(np.arange(n), seed, 11), mix64(np.arange(n), seed, 12)], axis=1)
    return Customers(
        account_id=numbered("u", 10_000_000 + np.arange(n), 8),
        device_kind=kind.astype(np.int8),
        user_agent=ua.astype(np.int16),
        device_id=hex_ids(device_words, dashes=(8, 12, 16, 20)),
        home_ip=home_ip,
        home_asn=np.where(v6, asn6, asn4).astype(np.int64),
        p_active=p_active.astype(np.float32),
        intensity=intensity.astype(np.float32),
        mobile_share=mobile.astype(np.float32),
        contact=people(rng, n),
    )


def _carrier_nat(rng: np.random.Generator, customers: int) -> tuple[pa.Array, np.ndarray]:
    """A few public addresses per carrier: each ends up shared by thousands of subscribers."""
    size = int(np.clip(customers // 4000, 4, 400))
    text, block, _ = network.draw_ipv4(rng, network.CARRIER_NAT, size)
    return text, np.array([b.asn for b in network.CARRIER_NAT])[block]


def _teams(customers: int) -> tuple[Team, ...]:
    cs = int(np.clip(customers // 2500, 8, 600))
    return (
        Team("identity", "Engineering", "identity_engineer", 5),
        Team("platform", "Engineering", "backend_engineer", 12 + customers // 40_000),
        Team("data", "Data", "data_engineer", 6 + customers // 100_000),
        Team("security", "Security", "security_engineer", 4),
        Team("cs_lead", "Customer Service", "cs_lead", max(1, cs // 15)),
        Team("cs", "Customer Service", "cs_agent", cs),
        Team("marketing", "Marketing", "marketer", 6),
        Team("finance", "Finance", "accountant", 4),
    )


def _workforce(rng: np.random.Generator, customers: int, start: int, days: int):
    employees: list[Employee] = []
    teams: dict[str, list[int]] = {}
    first_hire = epoch_us(dt.datetime(2018, 3, 1, tzinfo=dt.timezone.utc))
    for team in _teams(customers):
        members = []
        folks = people(rng, team.size)
        hired = first_hire + (rng.random(team.size) * (start - 45 * DAY - first_hire)).astype(np.int64)
        for i in range(team.size):
            index = len(employees)
            employees.append(Employee(
                index=index, employee_id=f"E{10_001 + index}", name=folks["name"][i].as_py(),
                team=team.name, department=team.department, role=team.role, manager_id=None,
                hired_at=int(hired[i]) // DAY * DAY,
                device_id=f"LT-{10_001 + index:05d}",
            ))
            members.append(index)
        teams[team.name] = members
    # The first of each team leads it (agents report to the first customer-service lead); team
    # leads have no manager_id, as an HR export shows the top of each line.
    for name, members in teams.items():
        lead = teams["cs_lead"][0] if name == "cs" else members[0]
        for i in members:
            if i != lead:
                employees[i].manager_id = employees[lead].employee_id
    # Two customer-service agents join during the window: hires, not only leavers.
    for i in teams["cs"][-2:]:
        employees[i].hired_at = start + max(1, days // 3) * DAY
    return employees, teams


#: People the scenarios may cast; ordinary attrition never picks them.
RESERVED = {("identity", 0), ("identity", 1), ("data", 0), ("cs", 0), ("cs", 1)}


def _leavers(world: World, rng: np.random.Generator) -> None:
    """Ordinary attrition: people who left before the window, during it, and (HR exports
    future-dated leavers) after it."""
    for team, members in world.teams.items():
        for pos, i in enumerate(members):
            employee = world.employees[i]
            if (team, pos) in RESERVED or employee.hired_at >= world.start:
                continue
            draw = rng.random()
            if draw < 0.10:
                span = world.start - DAY - employee.hired_at
                if span > 120 * DAY:
                    moment = employee.hired_at + 90 * DAY + int(rng.random() * (span - 90 * DAY))
                    employee.terminated_at = moment - moment % DAY + 9 * HOUR
            elif draw < 0.13:
                employee.terminated_at = world.day_start(int(rng.integers(1, max(2, world.days)))) + 9 * HOUR
            elif draw < 0.15:
                employee.terminated_at = world.end + int(rng.integers(10, 40)) * DAY + 9 * HOUR
    # An identity engineer who held the web key leaves before its rotation: a departed
    # custodian whose key WAS rotated (a look-alike of the forgery's precondition).
    leaver = world.team("identity")[2]
    leaver.terminated_at = world.rotation_at - 3 * DAY - HOUR


def _without_lookalikes(world: World) -> None:
    """A plain world: no carrier NAT, no shared office address, no key rotation in the window."""
    world.customers.mobile_share[:] = 0
    for person in world.employees:
        person.office_ip = f"211.234.56.{20 + person.index % 230}"
    world.rotation_at = world.end + 400 * DAY


def _keys_and_custody(world: World) -> None:
    ts = lambda y, m, d: epoch_us(dt.datetime(y, m, d, 1, tzinfo=dt.timezone.utc))  # noqa: E731
    world.keys = [
        Key("app-at-2017-11", "RS256", "customer_access_token", "file", ts(2017, 11, 6), ts(2020, 3, 16)),
        Key(APP_KID, "ES256", "customer_access_token", "file", ts(2020, 3, 2)),
        Key(WEB_KID_OLD, "ES256", "customer_access_token", "kms", ts(2024, 1, 15),
            world.rotation_at + DAY),
        Key(SERVICE_KID, "ES256", "service_access_token", "kms", ts(2024, 6, 3)),
    ]
    if world.benign:
        world.keys.insert(3, Key(WEB_KID_NEW, "ES256", "customer_access_token", "kms", world.rotation_at - 2 * DAY))
    else:
        world.key(WEB_KID_OLD).retired_at = None
    identity = world.team("identity")
    security = world.team("security")
    for kid in (APP_KID, WEB_KID_OLD):
        for person in identity[:3] + security[:1]:
            granted = max(world.key(kid).created_at, person.hired_at)
            world.custody.append(Custody(kid, person.employee_id, granted, _custody_end(person)))
    for person in identity[:2] + security[:1] if world.benign else []:
        if person.terminated_at is None or person.terminated_at > world.rotation_at:
            world.custody.append(Custody(WEB_KID_NEW, person.employee_id, world.rotation_at - 2 * DAY))
    for person in security[:2]:
        world.custody.append(Custody(SERVICE_KID, person.employee_id, world.key(SERVICE_KID).created_at))


def _custody_end(person: Employee) -> int | None:
    # Access to the vault is removed when someone leaves; a copy they made is another matter.
    return person.terminated_at


def _credentials(world: World, rng: np.random.Generator) -> None:
    """Long-lived staff keys (revoked when their owner leaves) and service credentials."""
    for team in ("data", "platform", "identity", "security"):
        for person in world.team(team):
            if team != "data" and rng.random() > 0.4:
                continue
            created = person.hired_at + int(rng.integers(5, 60)) * DAY
            word = mix64(world.seed, person.index, 21)
            cred = Credential(
                credential_id=hex_ids(word, prefix="ak_live_")[0].as_py(),
                credential_type="api_key", owner_id=person.employee_id, created_at=created,
                scopes="admin:read reports:read" + (" export:customers" if team == "data" else ""),
            )
            if person.terminated_at is not None:
                cred.revoked_at = person.terminated_at + int(rng.integers(1, 6)) * HOUR
            world.credentials.append(cred)
            if rng.random() < 0.5:
                ssh = Credential(
                    credential_id=hex_ids(mix64(world.seed, person.index, 22), prefix="ssh_")[0].as_py(),
                    credential_type="ssh_key", owner_id=person.employee_id, created_at=created,
                    revoked_at=cred.revoked_at, scopes="bastion",
                )
                world.credentials.append(ssh)


def _services(world: World) -> None:
    sync_key = hex_ids(mix64(world.seed, 31), prefix="sa_")[0].as_py()
    world.services = {
        "notification-service": Service("notification-service", "10.20.4.17", "notify-worker/3.4 (go1.22)"),
        "warehouse-sync": Service("warehouse-sync", "10.20.9.31", "warehouse-sync/1.8 (python 3.11)", sync_key),
    }
    created = epoch_us(dt.datetime(2023, 9, 4, 2, tzinfo=dt.timezone.utc))
    world.credentials += [
        Credential(sync_key, "service_account", "warehouse-sync", created, scopes="export:customers"),
        Credential("notification-service", "oauth_client", "notification-service", created,
                   scopes="customers:contact:read"),
    ]
