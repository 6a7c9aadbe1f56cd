"""Attack scenarios, one module each; selectable by name (``custodes simulate --scenario``)."""

from __future__ import annotations

from custodes.simulate.scenarios.base import ENTITY_KEYS, Scenario
from custodes.simulate.scenarios.curious_insider import CuriousInsider
from custodes.simulate.scenarios.departed_credential import DepartedCredential
from custodes.simulate.scenarios.key_forgery import KeyForgery

#: name -> class, in the order ground truth lists them.
SCENARIOS: dict[str, type[Scenario]] = {s.name: s for s in (KeyForgery, DepartedCredential, CuriousInsider)}

__all__ = ["ENTITY_KEYS", "SCENARIOS", "Scenario"]
