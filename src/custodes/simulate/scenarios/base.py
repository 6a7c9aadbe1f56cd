"""What every scenario (attack or look-alike) is: a small class with class-level metadata.

A scenario is cast once against the world (it may pick people and change their records: a
termination, a credential left unrevoked), then asked for its traffic one day at a time.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pyarrow as pa

from custodes.simulate.world import World

ENTITY_KEYS = ("kid", "src_ip", "credential_id", "actor_id", "employee_id")


class Scenario:
    name: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    attack: ClassVar[tuple[str, ...]] = ()
    #: Ordinal of this scenario's private random stream and id lane (never reuse one).
    stream: ClassVar[int]

    def __init__(self, world: World):
        self.world = world
        self.rng = np.random.default_rng([world.seed & 0xFFFFFFFF, 900, self.stream])
        self.cast()

    def cast(self) -> None:
        """Pick the people, keys and credentials involved; adjust their records."""

    def active_days(self) -> range:
        raise NotImplementedError

    def day_rng(self, day: int) -> np.random.Generator:
        return np.random.default_rng([self.world.seed & 0xFFFFFFFF, 901, self.stream, day])

    def access(self, day: int) -> pa.Table | None:
        """The scenario's requests on ``day`` (None when it is quiet that day)."""
        return None

    def replaces_staff(self, day: int) -> set[str]:
        """Employees whose ordinary work this scenario generates itself on ``day``."""
        return set()

    def indicators(self, src_ips: list[str]) -> dict[str, list[str]]:
        """The five entity keys of CONTRACT.md §3; src_ips are those the scenario used."""
        raise NotImplementedError


def entities(**given: list[str]) -> dict[str, list[str]]:
    return {key: sorted(set(given.get(key, []))) for key in ENTITY_KEYS}
