"""A day of customer traffic, vectorised: sessions, the tokens they mint, the requests they make.

Per day: each customer is active with their own probability; an active customer opens one
session at a time of day drawn from the Korean diurnal curve, makes a heavy-tailed number of
requests over a log-normal duration, and the authorization server mints one access token at the
start and one per hour after (refresh), each valid for an hour. Requests carry the token in
force at their time. Everything below is array arithmetic over all sessions and requests of the
day at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pyarrow as pa

from custodes.simulate import catalog, network, records
from custodes.simulate.records import Coded, coded_unique
from custodes.simulate.clock import DAY, HOUR, MINUTE, US, diurnal_offsets, weekday
from custodes.simulate.strings import argsort_stable, hex_ids, mix64
from custodes.simulate.world import (
    ACCESS_TOKEN_LIFETIME, APP_KID, DEVICE_KINDS, USER_AGENTS, WEB_KID_NEW, WEB_KID_OLD, World,
)

#: Id namespaces: a 64-bit counter (source, day, position) mixed by a bijection, so ids are
#: unique by construction and still look random.
SOURCE_CUSTOMER, SOURCE_SERVICE, SOURCE_SCENARIO, SOURCE_REQUEST = 1, 3, 5, 6

#: Benign oddities of real logs (see lookalikes.py for what ground truth says about them).
ISSUANCE_LOSS = 0.0005          # issuance rows the authorization server failed to ship
LATE_SESSION_SHARE = 0.002      # sessions whose rows arrive in the next day's file
SKEWED_NODE_SHARE = 0.125       # sessions served by the gateway node with a slow clock
CLOCK_SKEW = -95 * US           # that node's clock error
TRAVEL_SHARE = 0.001            # sessions of customers abroad
ROTATION_STAGGER = 12 * HOUR    # after a key rotation, one auth node keeps the old key this long


def unique_words(seed: int, source: int, day: int, n: int, salt: int = 0, lane: int = 0) -> np.ndarray:
    """n distinct 64-bit words for (source, day, lane): a counter laid out as source (8 bits),
    day (16), lane (16) and position (24 bits, or 40 when lane is 0), then mixed bijectively."""
    if not (0 <= day < 1 << 16 and 0 <= lane < 1 << 16 and n < (1 << 24 if lane else 1 << 40)):
        raise ValueError("id counter out of range")
    counter = ((np.uint64(source) << np.uint64(56)) | (np.uint64(day) << np.uint64(40))
               | (np.uint64(lane) << np.uint64(24)) | np.arange(n, dtype=np.uint64))
    return mix64(seed, salt, counter)


def request_ids(seed: int, source: int, day: int, n: int, lane: int = 0) -> pa.Array:
    return hex_ids(unique_words(seed, source, day, n, salt=101, lane=lane))


def token_ids(seed: int, source: int, day: int, n: int, lane: int = 0) -> pa.Array:
    """jti values: UUID-shaped, unique by construction."""
    words = np.stack([unique_words(seed, source, day, n, salt=102, lane=lane),
                      unique_words(seed, source, day, n, salt=103, lane=lane)], axis=1)
    return hex_ids(words, dashes=(8, 12, 16, 20))


@dataclass
class DayTraffic:
    access: pa.Table
    issuance: pa.Table
    lost_token_ids: list[str]
    late_rows: int = 0
    skewed_rows: int = 0
    travel_rows: int = 0


def customer_day(world: World, day: int, rng: np.random.Generator) -> DayTraffic:
    C = world.customers
    n = len(C)
    day_start = world.day_start(day)
    busy = 1.15 if weekday(day_start) >= 5 else 1.0
    cust = np.flatnonzero(rng.random(n) < C.p_active * busy)
    S = len(cust)

    # Sessions --------------------------------------------------------------------------------
    start = day_start + diurnal_offsets(rng, S)
    duration = np.clip(rng.lognormal(np.log(14 * MINUTE), 1.0, S), MINUTE, 5 * HOUR).astype(np.int64)
    oddities = 1.0 if world.benign else 0.0
    late = (rng.random(S) < LATE_SESSION_SHARE * oddities) & (day > 0)
    start = np.where(late, day_start - (rng.random(S) * HOUR).astype(np.int64) - duration // 2, start)
    # A session stays in its day's file (late ones deliberately spill into the next).
    duration = np.where(late, duration, np.minimum(duration, day_start + DAY - start - 31 * US))
    duration = np.maximum(duration, 1)
    requests = 1 + rng.poisson(7.0 * C.intensity[cust] * np.sqrt(duration / (14 * MINUTE)))

    kind = C.device_kind[cust]
    platform_web = np.array([k.platform == "web" for k in DEVICE_KINDS])[kind]
    mobile = rng.random(S) < C.mobile_share[cust]
    travel = rng.random(S) < TRAVEL_SHARE * oddities
    nat_slot = rng.integers(0, len(world.carrier_nat_ip), S)
    n_travel = int(travel.sum())
    travel_ip, travel_block, _ = network.draw_ipv4(rng, network.ABROAD_CONSUMER, n_travel)
    # One address dictionary for the day: homes, then carrier NAT, then travellers.
    n_nat = len(world.carrier_nat_ip)
    ip_dict = pa.concat_arrays([C.home_ip, world.carrier_nat_ip, travel_ip])
    asn_dict = np.concatenate([C.home_asn, world.carrier_nat_asn,
                               np.array([b.asn for b in network.ABROAD_CONSUMER], np.int64)[travel_block]])
    countries = ["KR"] + [b.country for b in network.ABROAD_CONSUMER]
    country_dict = np.concatenate([np.zeros(n + n_nat, np.int32), 1 + travel_block.astype(np.int32)])
    ip_index = np.where(mobile, n + nat_slot, cust)
    ip_index[travel] = n + n_nat + np.arange(n_travel)
    # Per-session strings, each drawn once: events and tokens refer to them by session number.
    session_ip = coded_unique(ip_index, ip_dict)
    accounts = C.account_id.take(pa.array(cust))
    devices = C.device_id.take(pa.array(cust))

    # Tokens: one at login, one per hour after --------------------------------------------------
    per_session = (duration // HOUR + 1).astype(np.int64)
    T = int(per_session.sum())
    tok_session = np.repeat(np.arange(S), per_session)
    first_token = np.concatenate([[0], np.cumsum(per_session)[:-1]]).astype(np.int64)
    hour_no = np.arange(T) - first_token[tok_session]
    iat = start[tok_session] + hour_no * HOUR - (rng.random(T) * 30 * US).astype(np.int64) - US
    iat = iat - iat % US
    exp = iat + ACCESS_TOKEN_LIFETIME
    web = platform_web[tok_session]
    staggered = (iat >= world.rotation_at) & (iat < world.rotation_at + ROTATION_STAGGER) & (rng.random(T) < 1 / 3)
    web_kid = np.where((iat < world.rotation_at) | staggered, 1, 2)
    kid_index = np.where(web, web_kid, 0).astype(np.int32)
    jti = token_ids(world.seed, SOURCE_CUSTOMER, day, T)
    epoch = (day + cust % 14) // 14
    sid = hex_ids(mix64(world.seed, 7, cust, epoch), prefix="sid_")
    kids = pa.array([APP_KID, WEB_KID_OLD, WEB_KID_NEW])
    login_grant = np.where(platform_web, 2, 1)  # web logs in through a social provider
    grant = np.where(hour_no == 0, np.where(rng.random(T) < 0.18, login_grant[tok_session], 0), 0)
    grants = pa.array(["refresh_token", "password", "authorization_code"])
    clients = pa.array([k.client_id for k in DEVICE_KINDS])
    lost = rng.random(T) < ISSUANCE_LOSS * oddities
    kept = np.flatnonzero(~lost)
    ks = tok_session[kept]
    issued = records.table(
        "issuance", len(kept), time=iat[kept], token_id=jti.take(pa.array(kept)),
        kid=Coded(kid_index[kept], kids), subject=Coded(ks, accounts), actor_type="customer",
        session_id=Coded(ks, sid), client_id=Coded(kind[ks], clients), grant=Coded(grant[kept], grants),
        iat=iat[kept], exp=exp[kept], src_ip=Coded(session_ip.codes[ks], session_ip.values),
        device_id=Coded(ks, devices),
    )
    lost_ids = jti.filter(pa.array(lost)).to_pylist()

    # Requests ----------------------------------------------------------------------------------
    E = int(requests.sum())
    ev_session = np.repeat(np.arange(S), requests)
    offset = (rng.random(E) * duration[ev_session]).astype(np.int64)
    # Keep each request inside its token's hour (refreshes happen just before expiry).
    offset = offset - np.maximum(offset % HOUR - (HOUR - 31 * US), 0)
    time = start[ev_session] + offset
    token = first_token[ev_session] + offset // HOUR
    # The slow-clock gateway node serves a fixed slice of customers (sticky load balancing).
    skewed_session = (mix64(world.seed, 9, cust) % np.uint64(1000)) < int(SKEWED_NODE_SHARE * 1000)
    skewed = skewed_session[ev_session]
    time = time + np.where(skewed, int(CLOCK_SKEW * oddities), 0)
    order = argsort_stable(time)
    time, token, ev_session = time[order], token[order], ev_session[order]
    ev_ip = ip_index[ev_session]

    route = ROUTE_TABLE[rng.integers(0, len(ROUTE_TABLE), E, dtype=np.int32)]
    # Status and size jitter from lookup tables: one small-integer draw per request each.
    status = STATUS_TABLE[rng.integers(0, len(STATUS_TABLE), E, dtype=np.int32)]
    size = (catalog.SIZES[route] * SIZE_JITTER[rng.integers(0, len(SIZE_JITTER), E, dtype=np.int32)]).astype(np.int64)
    size = np.where(status == 304, 0, np.where(status == 404, 180, size))
    account = Coded(ev_session, accounts)
    table = records.table(
        "access", E, time=time, src_ip=Coded(session_ip.codes[ev_session], session_ip.values),
        user_agent=Coded(C.user_agent[cust][ev_session], USER_AGENT_ARRAY),
        device_id=Coded(ev_session, devices),
        geo_country=Coded(country_dict[ev_ip], pa.array(countries)),
        asn=asn_dict[ev_ip],
        method=Coded(route, METHOD_ARRAY), route=Coded(route, ROUTE_ARRAY),
        status=status.astype(np.int64), bytes_out=size, actor_type="customer",
        actor_id=account, account_id=account, record_count=1,
        credential_type="access_token", credential_id=Coded(token, jti),
        token_kid=Coded(kid_index[token], kids), token_iat=iat[token], token_exp=exp[token],
        session_id=Coded(ev_session, sid),
    )
    return DayTraffic(table, issued, lost_ids, late_rows=int((time < day_start).sum()),
                      skewed_rows=int(skewed.sum()) if world.benign else 0,
                      travel_rows=int(requests[travel].sum()))


def _route_table(size: int = 1 << 14) -> np.ndarray:
    """A lookup table whose uniform draws follow the customer route weights (to 1/16384)."""
    cdf = np.cumsum(catalog.weights("customer"))
    slots = (np.arange(size) + 0.5) / size
    return np.minimum(np.searchsorted(cdf, slots, side="right"), len(catalog.ROUTES) - 1).astype(np.int32)


ROUTE_TABLE = _route_table()
#: 1.2% 304 Not Modified, 0.8% 404, the rest 200.
STATUS_TABLE = np.array([304] * 12 + [404] * 8 + [200] * 980, dtype=np.int64)
#: Log-normal (sigma 0.35) response-size factors at 4096 evenly spaced quantiles.
SIZE_JITTER = np.exp(0.35 * np.array([NormalDist().inv_cdf((i + 0.5) / 4096) for i in range(4096)]))
USER_AGENT_ARRAY = pa.array(USER_AGENTS)
METHOD_ARRAY = pa.array(catalog.METHODS)
ROUTE_ARRAY = pa.array(catalog.ROUTE_NAMES)
