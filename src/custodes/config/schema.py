"""The schema of ``WORKSPACE/custodes.yaml``: every key custodes reads, as pydantic models.

Sections that a capability already checks strictly keep their own model and are reused here
(``alerts``: :mod:`custodes.alerts.config`, ``sources``: :mod:`custodes.watch.config`,
``respond``: :mod:`custodes.respond.settings`), so one model says what a key may hold; they are
imported only when the file has them (:data:`SECTIONS`).
``detect`` is not a model of its own: besides its fixed keys it holds the thresholds the rules
declare (:attr:`custodes.detect.rule.Rule.parameters`), built in :func:`detect_model`.

The models here check types and shapes; what needs the file system or the workspace (an anchor
file outside the workspace, a time window's dates) stays with the code that uses it and is run
by ``custodes config check``.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import ipaddress
from typing import Annotated, Any, Literal, Optional

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model

from custodes.config.types import NonNegative, Positive, Text


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AnchorSinks(Section):
    file: Text | None = None
    syslog: Text | None = None  # udp://HOST:PORT or tcp://HOST:PORT
    http: Text | None = None


class Seal(Section):
    signing_key: Text | None = None  # Ed25519 private key, PEM
    verify_key: Text | None = None   # Ed25519 public key, PEM
    anchor: Text | AnchorSinks | None = None


class TimeWindow(Section):
    earliest: dt.datetime | dt.date | Text | None = None
    ahead_days: Annotated[float, Field(ge=0, le=36500)] | None = None


class Ingest(Section):
    time_window: TimeWindow | None = None


class Posture(Section):
    key_max_age_days: Positive | None = None


class Guard(Section):
    ledger: Text | None = None  # memory:, sqlite:///PATH, redis://HOST:PORT/DB


def _network(value: str) -> str:
    try:
        ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ValueError("not an IP address or network") from None  # pydantic names the key
    return value


#: an address or a CIDR network (host bits allowed, as --trusted-proxy takes them)
Network = Annotated[str, AfterValidator(_network)]


class Console(Section):
    url: Annotated[str, Field(pattern=r"^https?://")] | None = None
    redis: Annotated[str, Field(pattern=r"^rediss?://")] | None = None
    trusted_proxies: list[Network] | Network | None = None


#: Each top-level key and the type of its value; the sections a capability keeps beside its
#: code are named "module:attribute" and imported only when the file holds them (importing
#: custodes.watch or custodes.respond costs a command that uses neither most of a second).
#: ``detect`` is a plain mapping here: :func:`detect_model` checks it.
SECTIONS: dict[str, Any] = {
    "engine": Literal["duckdb", "spark"],
    "seal": Seal,
    "detect": dict[str, Any],
    "ingest": Ingest,
    "respond": "custodes.respond.settings:RespondConfig",
    "posture": Posture,
    "guard": Guard,
    "alerts": "custodes.alerts.config:AlertsConfig",
    "console": Console,
    "sources": "custodes.watch.config:Source[]",
}


def section_type(name: str) -> Any:
    """The type of section ``name``'s value (None always allowed: an empty section)."""
    kind = SECTIONS[name]
    if isinstance(kind, str):
        module, attr = kind.removesuffix("[]").split(":")
        kind = getattr(importlib.import_module(module), attr)
        kind = list[kind] if SECTIONS[name].endswith("[]") else kind  # type: ignore[valid-type]
    return Optional[kind]  # noqa: UP045 - kind is a runtime value, not an annotation


@functools.cache
def config_model() -> type[BaseModel]:
    """custodes.yaml as one model (every section imported): for suggestions and for tools."""
    return create_model("Config", __base__=Section,  # type: ignore[call-overload]  # fields built at runtime
                        **{name: (section_type(name), None) for name in SECTIONS})


#: the keys of ``detect:`` that no rule owns
DETECT_KEYS: dict[str, Any] = {
    "rules_dir": Text,                          # the operator's own rules, relative to the workspace
    "issuance_max_lag_minutes": NonNegative,
}


def detect_model(parameters: dict[str, Any]) -> type[BaseModel]:
    """The ``detect:`` section for rules declaring ``parameters`` (name -> type)."""
    fields = {name: (kind | None, None) for name, kind in {**DETECT_KEYS, **parameters}.items()}
    return create_model("Detect", __base__=Section, **fields)  # type: ignore[call-overload]  # fields built at runtime
