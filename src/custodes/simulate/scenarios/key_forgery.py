"""key_forgery: a departed custodian forges customer tokens with a key nobody rotated.

The DESIGN.md case. An identity engineer with custody of the app's token-signing key (a file
key in service since 2020) leaves; the key is neither rotated nor retired. Weeks later, tokens
the authorization server never issued (jti absent from issuance), signed with that kid, read
the profile and address pages (and some address-edit and order pages) of many accounts: low and
slow, around the clock, from a few rented servers abroad that rotate every day or two, with the
real app's user agent. Each forged token names its victim as ``sub`` and has a fresh jti.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from custodes.simulate import catalog, network, records
from custodes.simulate.clock import DAY, HOUR, US
from custodes.simulate.scenarios.base import Scenario, entities
from custodes.simulate.strings import hex_ids
from custodes.simulate.traffic import SOURCE_SCENARIO, token_ids, unique_words
from custodes.simulate.world import APP_KID, DEVICE_KINDS, ACCESS_TOKEN_LIFETIME

VICTIM_SHARE = 0.35       # of all customers, by the end of the window
IP_POOL = 36              # rented servers over the campaign
IPS_PER_DAY = 4
# What a forger reads per victim: (route, probability).
READS = (
    ("/api/v1/me/profile", 1.0),
    ("/api/v1/me/addresses", 0.85),
    ("/api/v1/me/addresses/{id}/edit", 0.04),
    ("/api/v1/me/orders", 0.06),
)


class KeyForgery(Scenario):
    name = "key_forgery"
    title = "Forged customer tokens signed with a departed custodian's unrotated key"
    description = __doc__.split("\n\n", 1)[1].replace("\n", " ").strip()
    attack = ("T1552.004", "T1606", "T1078")
    stream = 1

    def cast(self) -> None:
        world = self.world
        self.custodian = world.team("identity")[0]
        self.custodian.terminated_at = world.at(0.2) + 9 * HOUR
        left = self.custodian.terminated_at
        mine = lambda c: c.employee_id == self.custodian.employee_id  # noqa: E731
        world.custody = [c for c in world.custody if not (mine(c) and c.granted_at >= left)]
        for custody in world.custody:
            if mine(custody):
                custody.revoked_at = left  # vault access removed; the copy he made is not
        for cred in world.credentials:
            if cred.owner_id == self.custodian.employee_id:
                cred.revoked_at = self.custodian.terminated_at + 2 * HOUR
        left_day = (self.custodian.terminated_at - world.start) // DAY
        self.first_day = int(min(world.days - 1, max(left_day + 1, int(np.ceil(world.days * 2 / 3)))))
        days = self.active_days()
        # Low and slow, growing: each day reads a little more than the one before.
        ramp = np.arange(1, len(days) + 1, dtype=np.float64)
        victims = max(len(days), int(round(VICTIM_SHARE * len(world.customers))))
        per_day = np.floor(victims * ramp / ramp.sum()).astype(np.int64)
        per_day[-1] += victims - per_day.sum()
        order = self.rng.permutation(len(world.customers))[:victims]
        bounds = np.concatenate([[0], np.cumsum(per_day)])
        self.victims = {day: order[bounds[i]:bounds[i + 1]] for i, day in enumerate(days)}
        weights = np.array([3, 2, 3, 2, 3, 2], dtype=np.float64)
        self.ips, block, _ = network.draw_ipv4(self.rng, network.HOSTING_ABROAD, IP_POOL, weights / weights.sum())
        self.ip_asn = np.array([b.asn for b in network.HOSTING_ABROAD], np.int64)[block]
        self.ip_country = pa.array([network.HOSTING_ABROAD[b].country for b in block])
        app_agents = [kind.user_agents[0] for kind in DEVICE_KINDS if kind.platform == "app"]
        self.agents = pa.array(app_agents)

    def active_days(self) -> range:
        return range(self.first_day, self.world.days)

    def access(self, day: int) -> pa.Table | None:
        if day not in self.victims or not len(self.victims[day]):
            return None
        world, rng = self.world, self.day_rng(day)
        victims = self.victims[day]
        V = len(victims)
        # One forged token per victim, minted a moment before use, around the clock.
        iat = world.day_start(day) + (rng.random(V) * (DAY - 10 * 60 * US)).astype(np.int64)
        iat -= iat % US
        reads = np.stack([rng.random(V) < p for _, p in READS], axis=1)
        per_victim = reads.sum(axis=1)
        E = int(per_victim.sum())
        who = np.repeat(np.arange(V), per_victim)
        route = np.nonzero(reads)[1]
        step = np.arange(E) - np.repeat(np.cumsum(per_victim) - per_victim, per_victim)
        time = iat[who] + (1 + step) * (US + (rng.random(E) * 3 * US).astype(np.int64))
        route_ix = np.array([catalog.index(r) for r, _ in READS])[route]
        # Each day uses a few servers of the pool, shifting by two a day.
        today = (day * 2 + np.arange(IPS_PER_DAY)) % IP_POOL
        ip = today[rng.integers(0, IPS_PER_DAY, V)][who]
        jti = token_ids(world.seed, SOURCE_SCENARIO, day, V, lane=self.stream)
        sid = hex_ids(unique_words(world.seed, SOURCE_SCENARIO, day, V, salt=7, lane=self.stream), prefix="sid_")
        device = hex_ids(np.stack([unique_words(world.seed, SOURCE_SCENARIO, day, V, salt=8, lane=self.stream),
                                   unique_words(world.seed, SOURCE_SCENARIO, day, V, salt=9, lane=self.stream)],
                                  axis=1), dashes=(8, 12, 16, 20))
        account = world.customers.account_id.take(pa.array(victims[who]))
        who_ix = pa.array(who)
        return records.table(
            "access", E, time=time,
            src_ip=self.ips.take(pa.array(ip)), user_agent=self.agents.take(pa.array(rng.integers(0, 2, V)[who])),
            device_id=device.take(who_ix), geo_country=self.ip_country.take(pa.array(ip)), asn=self.ip_asn[ip],
            method="GET", route=pa.array(catalog.ROUTE_NAMES).take(pa.array(route_ix)), status=200,
            bytes_out=(catalog.SIZES[route_ix] * rng.lognormal(0, 0.3, E)).astype(np.int64),
            actor_type="customer", actor_id=account, account_id=account, record_count=1,
            credential_type="access_token", credential_id=jti.take(who_ix), token_kid=APP_KID,
            token_iat=iat[who], token_exp=iat[who] + ACCESS_TOKEN_LIFETIME, session_id=sid.take(who_ix),
        )

    def indicators(self, src_ips: list[str]) -> dict[str, list[str]]:
        return entities(kid=[APP_KID], src_ip=src_ips, employee_id=[self.custodian.employee_id])
