"""departed_credential: a departed employee's API key, never revoked, pulls a bulk export.

A data engineer leaves; their API key (scope ``export:customers``) is not revoked. Weeks later,
at night, the key looks up a handful of customer records from a home broadband address, then
pages through the bulk customer export. Export pages carry ``record_count`` (the customers in
the page) and no ``account_id``: the gateway log does not say which customers a page held, so
the scenario's account list holds the individually looked-up accounts, and ``records`` in
ground truth counts every exported record.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from custodes.simulate import catalog, network, records
from custodes.simulate.clock import DAY, HOUR, MINUTE, US
from custodes.simulate.scenarios.base import Scenario, entities
from custodes.simulate.world import SCRIPT_AGENTS

EXPORT_PAGE = 1_000
EXPORT_SHARE = 0.3   # of all customers, per night of exporting
LOOKUPS = (6, 16)


class DepartedCredential(Scenario):
    name = "departed_credential"
    title = "A departed employee's unrevoked API key pulls the customer export"
    description = __doc__.split("\n\n", 1)[1].replace("\n", " ").strip()
    attack = ("T1078", "T1530")
    stream = 2

    def cast(self) -> None:
        world = self.world
        self.employee = world.team("data")[0]
        self.employee.terminated_at = world.at(0.3) + 9 * HOUR
        keys = [c for c in world.credentials
                if c.owner_id == self.employee.employee_id and c.credential_type == "api_key"]
        self.credential = keys[0]
        self.credential.revoked_at = None  # the mistake: nobody revoked it
        for cred in world.credentials:
            if cred.owner_id == self.employee.employee_id and cred is not self.credential:
                cred.revoked_at = self.employee.terminated_at + HOUR
        left_day = (self.employee.terminated_at - world.start) // DAY
        self.first_day = int(min(world.days - 1, max(left_day + 1, int(world.days * 0.75))))
        ip, block, _ = network.draw_ipv4(self.rng, network.DOMESTIC, 1)
        self.src_ip = ip[0].as_py()
        self.asn = network.DOMESTIC[int(block[0])].asn

    def active_days(self) -> range:
        return range(self.first_day, min(self.world.days, self.first_day + 2))

    def access(self, day: int) -> pa.Table | None:
        if day not in self.active_days():
            return None
        world, rng = self.world, self.day_rng(day)
        n_customers = len(world.customers)
        lookups = int(rng.integers(*LOOKUPS))
        accounts = rng.choice(n_customers, size=lookups, replace=False)
        exported = max(1, int(n_customers * EXPORT_SHARE))
        pages = -(-exported // EXPORT_PAGE)
        counts = np.full(pages, EXPORT_PAGE, dtype=np.int64)
        counts[-1] = exported - EXPORT_PAGE * (pages - 1)
        n = lookups + pages
        # From 00:30 KST (15:30 UTC), a request every few seconds.
        time = world.day_start(day) + 15 * HOUR + 30 * MINUTE + np.cumsum(
            (rng.random(n) * 4 * US + US).astype(np.int64))
        route = np.where(np.arange(n) < lookups, catalog.index("/admin/customers/{id}"),
                         catalog.index("/admin/export/customers"))
        account = pa.concat_arrays([world.customers.account_id.take(pa.array(accounts)),
                                    pa.nulls(pages, pa.string())])
        record_count = np.concatenate([np.ones(lookups, np.int64), counts])
        return records.table(
            "access", n, time=time,
            src_ip=self.src_ip, user_agent=SCRIPT_AGENTS[0], geo_country="KR", asn=self.asn,
            method="GET", route=pa.array(catalog.ROUTE_NAMES).take(pa.array(route)), status=200,
            bytes_out=record_count * 180 + 400, actor_type="employee", actor_id=self.employee.employee_id,
            account_id=account, record_count=record_count, credential_type="api_key",
            credential_id=self.credential.credential_id,
        )

    def indicators(self, src_ips: list[str]) -> dict[str, list[str]]:
        return entities(src_ip=src_ips, credential_id=[self.credential.credential_id],
                        actor_id=[self.employee.employee_id], employee_id=[self.employee.employee_id])
