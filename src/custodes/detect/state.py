"""Incremental state, kept small: per dataset the highest ``_seq`` already processed, the data
time of the last run, and a fingerprint of the rule set (a changed rule set recomputes all).

Baselines are not copied into the state: each day's baselines are recomputed from the lake's
own history (a bounded look-back per rule), which is what keeps incremental runs equal to
``--full`` even when late events land in days already judged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from custodes.detect.rule import Rule
from custodes.workspace import Workspace, atomic_write_bytes, private_dir

STATE_VERSION = 1


@dataclass
class State:
    version: int = STATE_VERSION
    rules: str = ""  # fingerprint of the rule ids and their versions
    seq: dict[str, int] = field(default_factory=dict)
    first: str | None = None  # the first access time
    now: str | None = None  # the last access time: the run's data-time now
    issuance_last: str | None = None
    horizon: str | None = None  # requests after it waited for their issuance rows
    runs: int = 0

    @classmethod
    def load(cls, workspace: Workspace) -> State:
        path = workspace.detect / "state.json"
        if not path.exists():
            return cls()
        data = json.loads(path.read_text())
        if data.get("version") != STATE_VERSION:
            return cls()
        return cls(**{k: data[k] for k in ("version", "rules", "seq", "first", "now", "issuance_last", "horizon", "runs")
                        if k in data})

    def save(self, workspace: Workspace) -> None:
        private_dir(workspace.detect)
        atomic_write_bytes(workspace.detect / "state.json", json.dumps(asdict(self), indent=2).encode())


def fingerprint(rules: Iterable[Rule]) -> str:
    text = ";".join(f"{r.id}:{r.version}" for r in sorted(rules, key=lambda r: r.id))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
