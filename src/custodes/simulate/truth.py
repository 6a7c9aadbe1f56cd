"""``ground_truth.json`` (CONTRACT.md §4) and ``truth/<scenario>.accounts``.

For each scenario: its window (first and last request), the five entity keys, the exact set of
customer accounts its requests touched (one id a line, sorted), and counts. The benign
look-alikes follow under ``lookalikes`` so a detector can be scored for staying quiet.
"""

from __future__ import annotations

import json
from pathlib import Path

from custodes.simulate import writer
from custodes.simulate.clock import US, rfc3339
from custodes.simulate.lookalikes import lookalikes
from custodes.simulate.scenarios import Scenario
from custodes.simulate.world import World

GROUND_TRUTH = "ground_truth.json"
FORMAT_VERSION = 1


def write(out: Path, world: World, cast: list[Scenario], days: list[dict]) -> dict:
    scenarios = [_scenario(out, world, scenario, days) for scenario in cast]
    lost = [jti for day in days for jti in day["lost_token_ids"]]
    document = {
        "format": FORMAT_VERSION,
        "generator": "custodes simulate",
        "seed": world.seed,
        "customers": len(world.customers),
        "days": world.days,
        "start": rfc3339(world.start),
        "end": rfc3339(world.end),
        "scenarios": scenarios,
        "lookalikes": lookalikes(world, sorted(lost), sum(d["late_rows"] for d in days),
                                 sum(d["skewed_rows"] for d in days), sum(d["travel_rows"] for d in days)),
    }
    writer.write_text(out / GROUND_TRUTH, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return document


def _scenario(out: Path, world: World, scenario: Scenario, days: list[dict]) -> dict:
    stats = [d["scenarios"][scenario.name] for d in days if scenario.name in d["scenarios"]]
    accounts = sorted({a for s in stats for a in s["accounts"]})
    src_ips = sorted({ip for s in stats for ip in s["src_ips"]})
    relative = f"truth/{scenario.name}.accounts"
    writer.write_text(out / relative, "".join(f"{a}\n" for a in accounts))
    return {
        "name": scenario.name,
        "title": scenario.title,
        "description": scenario.description,
        "attack": list(scenario.attack),
        "start": rfc3339(min(s["first"] for s in stats)) if stats else None,
        # Whole seconds that contain every request: start rounded down, end rounded up.
        "end": rfc3339(-(-max(s["last"] for s in stats) // US) * US) if stats else None,
        "indicators": scenario.indicators(src_ips),
        "accounts": relative,
        "account_count": len(accounts),
        "requests": sum(s["requests"] for s in stats),
        "records": sum(s["records"] for s in stats),
    }


def load(out_dir: str | Path) -> dict:
    """Read a simulation's ground truth, with each scenario's account list loaded as a set."""
    out = Path(out_dir)
    document = json.loads((out / GROUND_TRUTH).read_text())
    for scenario in document["scenarios"]:
        text = (out / scenario["accounts"]).read_text()
        scenario["account_ids"] = set(text.split())
    return document
