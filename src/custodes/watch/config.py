"""``sources:`` in custodes.yaml: what ``custodes watch`` picks up, checked strictly (pydantic),
so that a typo is one line naming the source and the field, never a source silently left out.

Out of the box (no ``sources:`` key at all) the guard's events directory is the one source:
``custodes guard serve`` publishes finished ``access-*.jsonl`` files there (in-flight ones are
hidden ``.part`` files, which no listing takes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from custodes.contract import DATASET_NAMES
from custodes.workspace import Workspace, named

Format = Literal["parquet", "csv", "jsonl", "ocsf"]
#: Formats read record by record: a file still being written can be taken in part (ingest
#: loads its complete records only, and later only what was added).
LINE_FORMATS = frozenset({"csv", "jsonl", "ocsf"})
#: Where ``custodes guard serve`` writes its events by default (guard/commands.py, ``--events``).
GUARD_EVENTS = Path("guard") / "access"


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    dataset: Literal[DATASET_NAMES]
    path: str = Field(min_length=1)  # a directory (its files, recursively) or a glob
    format: Format | None = None  # default: each file's extension
    map: Path | None = None
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    #: a file not modified for this long is complete: take it
    quiet_seconds: float = Field(60.0, ge=0)
    #: a line-based file that keeps growing (a live log) is taken at least this often anyway,
    #: its complete records only; null: only when quiet or rotated
    max_wait_seconds: float | None = Field(900.0, gt=0)
    #: a missing directory is normal (the guard's, before it first ran), not a failure
    optional: bool = False


def _resolve(workspace: Workspace, value: Path | str) -> str:
    """Relative paths are taken from the workspace directory: a service's working directory
    is nobody's business."""
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else workspace.root / path)


def guard_source(workspace: Workspace) -> Source:
    return Source(dataset="access", path=str(workspace.root / GUARD_EVENTS), format="jsonl", name="guard",
                  quiet_seconds=0, optional=True)


_ABSENT = object()


def load(workspace: Workspace) -> dict[str, Source]:
    """The sources by name (``name``, else the dataset, numbered when a dataset repeats), with
    their paths made absolute. No ``sources:`` key: the guard's events directory alone."""
    raw = workspace.setting("sources", _ABSENT)
    if raw is _ABSENT:
        return {"guard": guard_source(workspace)}
    sources = []
    for item in raw or []:  # checked with the whole file (custodes.config), one line per key
        source = Source.model_validate(item)
        updates = {"path": _resolve(workspace, source.path)}
        if source.map is not None:
            updates["map"] = Path(_resolve(workspace, source.map))
        sources.append(source.model_copy(update=updates))
    return named(sources, "dataset", "sources")
