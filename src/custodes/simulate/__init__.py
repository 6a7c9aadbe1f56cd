"""The platform simulator: customers, staff, services, keys and their traffic, with attack
scenarios, benign look-alikes and the ground truth to score detections against.

    from custodes.simulate import simulate
    summary = simulate("/tmp/world", customers=2_000, days=10, seed=1)

See docs/simulate.md for the output layout.
"""

from __future__ import annotations

from custodes.simulate.run import (
    DEFAULT_CUSTOMERS, DEFAULT_DAYS, DEFAULT_SEED, Summary, generate_day, layout, simulate,
)
from custodes.simulate.scenarios import SCENARIOS
from custodes.simulate.truth import GROUND_TRUTH, load as load_truth
from custodes.simulate.world import DEFAULT_START, build_world

__all__ = [
    "DEFAULT_CUSTOMERS", "DEFAULT_DAYS", "DEFAULT_SEED", "DEFAULT_START", "GROUND_TRUTH", "SCENARIOS",
    "Summary", "build_world", "generate_day", "layout", "load_truth", "simulate",
]
