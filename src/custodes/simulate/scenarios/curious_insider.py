"""curious_insider: a customer-service agent reads many times more customers than peers.

From the middle of the window, one current agent keeps doing their tickets but also browses
customer records with no ticket behind them: six to twelve times a peer's daily tickets, about
a third of them late at night (22:00-03:00 KST) through the office VPN, whose exit is the office NAT every colleague
shares. All of the agent's back-office reads from the scenario's start are the scenario's
requests (a detector cannot tell the ticketed ones apart, and neither does ground truth).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from custodes.simulate.backoffice import employee_reads, pick_customers, shift_times, tickets_per_agent
from custodes.simulate.scenarios.base import Scenario, entities

# Records read with no ticket behind them, as multiples of a peer's daily tickets.
DAY_BROWSE = (4.0, 8.0)   # during the shift
NIGHT_BROWSE = (2.0, 4.0)  # and at night


class CuriousInsider(Scenario):
    name = "curious_insider"
    title = "A customer-service agent reads far more customers than peers, partly at night"
    description = __doc__.split("\n\n", 1)[1].replace("\n", " ").strip()
    attack = ("T1078", "T1213")
    stream = 3

    def cast(self) -> None:
        self.agent = self.world.team("cs")[0]
        self.first_day = int(min(self.world.days - 1, max(1, self.world.days // 2)))

    def active_days(self) -> range:
        return range(self.first_day, self.world.days)

    def replaces_staff(self, day: int) -> set[str]:
        return {self.agent.employee_id} if day in self.active_days() else set()

    def access(self, day: int) -> pa.Table | None:
        if day not in self.active_days():
            return None
        world, rng = self.world, self.day_rng(day)
        start = world.day_start(day)
        usual = tickets_per_agent(world)
        tickets = rng.poisson(usual)
        ticketed = np.repeat(pick_customers(world, rng, tickets), 1 + rng.poisson(1.2, tickets))
        browsed = rng.choice(len(world.customers), size=int(usual * rng.uniform(*DAY_BROWSE)))
        day_reads = np.concatenate([ticketed, browsed])
        rng.shuffle(day_reads)
        night = rng.choice(len(world.customers), size=max(1, int(usual * rng.uniform(*NIGHT_BROWSE))))
        me = [self.agent]
        return pa.concat_tables([
            employee_reads(world, me, np.zeros(len(day_reads)), day, shift_times(rng, start, len(day_reads)),
                           day_reads, rng, salt=1),
            employee_reads(world, me, np.zeros(len(night)), day, shift_times(rng, start, len(night), 13, 5),
                           night, rng, salt=2),
        ])

    def indicators(self, src_ips: list[str]) -> dict[str, list[str]]:
        return entities(actor_id=[self.agent.employee_id], employee_id=[self.agent.employee_id])
