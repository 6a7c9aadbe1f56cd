"""What an analyst points scope at, turned into a filter over ``access``.

Each selector kind is one small function from (engine, workspace, value) to the access rows it
selects, written once in Ibis so it runs on DuckDB and Spark alike. High-cardinality indicators
(credential, source address, actor) are turned into the lake's 64-bit ``<column>_key`` with
:func:`custodes.ids.key_of`, so the filter compares integers, never strings.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import ibis

from custodes.detect.evidence import incident_requests
from custodes.errors import CustodesError, UsageError
from custodes.ids import key_of
from custodes.lake.ips import IPV4_COLUMN, in_network, ipv4_in, ipv4_or_mapped_in
from custodes.workspace import Workspace

if TYPE_CHECKING:
    from custodes.engine import Engine

#: selector kind -> the CLI option that names it
KINDS: dict[str, str] = {
    "incident": "--incident",
    "kid": "--kid",
    "credential": "--credential",
    "src_ip": "--src-ip",
    "actor": "--actor",
    "employee": "--employee",
}


@dataclass(frozen=True)
class Selector:
    kind: str
    value: str
    #: for kind "incident": the stored incident, when the caller loaded it already (a report
    #: reads incidents.json once); not part of the selector's identity
    incident: dict | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise UsageError(f"unknown selector {self.kind!r}; expected one of {', '.join(KINDS)}")
        if not str(self.value).strip():
            raise UsageError(f"{KINDS[self.kind]} needs a non-empty value")

    def describe(self) -> str:
        return f"{KINDS[self.kind]} {self.value}"

    def as_dict(self) -> dict:
        return {"kind": self.kind, "value": self.value}


def access(engine: Engine) -> ibis.Table:
    try:
        return engine.table("access")
    except KeyError:
        raise CustodesError("the workspace holds no access data; run `custodes ingest access PATH` first") from None


def optional_table(engine: Engine, dataset: str) -> ibis.Table | None:
    return engine.table(dataset) if engine.has(dataset) else None


# Selectors ----------------------------------------------------------------------------------
def by_kid(engine: Engine, workspace: Workspace, value: str) -> ibis.Table:
    t = access(engine)
    return t.filter(t.token_kid == value)


def by_credential(engine: Engine, workspace: Workspace, value: str) -> ibis.Table:
    t = access(engine)
    return t.filter(t.credential_id_key == key_of(value))


def by_actor(engine: Engine, workspace: Workspace, value: str) -> ibis.Table:
    t = access(engine)
    return t.filter(t.actor_id_key == key_of(value))


def by_src_ip(engine: Engine, workspace: Workspace, value: str) -> ibis.Table:
    t = access(engine)
    text = value.strip()
    if "/" not in text:
        return t.filter(t.src_ip_key.isin(sorted(_address_keys(text))))
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise UsageError(f"--src-ip {value!r} is neither an IP address nor a CIDR network") from None
    return _network_in(engine, t, net)


def _address_keys(text: str) -> set[int]:
    """Keys of the address as typed and in canonical form (the log may hold either)."""
    try:
        canonical = str(ipaddress.ip_address(text))
    except ValueError:
        raise UsageError(f"--src-ip {text!r} is neither an IP address nor a CIDR network") from None
    return {key_of(text), key_of(canonical)}


#: beyond this many distinct addresses in a network, filter by the address text instead of keys
MAX_KEYED_ADDRESSES = 20_000


def _network_in(engine: Engine, t: ibis.Table, net) -> ibis.Table:
    """An IPv4 network is an integer range on the lake's ``src_ip_v4``: one pass, no text read.
    Rows stored before the lake kept that column (or with no such column at all) are found by
    their address text, in two passes (see ``_by_address_text``)."""
    if net.version == 4 and IPV4_COLUMN in t.columns:
        return _by_ipv4_number(engine, t, net)
    cond = _by_address_text(engine, t, net)
    return t.filter(cond if cond is not None else ibis.literal(False))


def _by_ipv4_number(engine: Engine, t: ibis.Table, net: ipaddress.IPv4Network) -> ibis.Table:
    in_range = t[IPV4_COLUMN].between(int(net.network_address), int(net.broadcast_address))
    legacy = engine.rows_without("access", IPV4_COLUMN)
    if legacy.none:  # every stored file has the column: the common case, one integer filter
        return t.filter(in_range)
    older = t[IPV4_COLUMN].isnull()
    if legacy.seqs is not None:  # the older files' ingests: the text pass reads only their rows
        older = t._seq.isin(sorted(legacy.seqs)) & older
    cond = _by_address_text(engine, t, net, only=older)
    if cond is None:
        return t.filter(in_range)
    # Two disjoint scans (a NULL number is never in range), not one OR: each filter then goes
    # down into the Parquet reader, so only matching rows are decoded beyond the filter columns.
    return t.filter(in_range).union(t.filter(cond), distinct=False)


def _by_address_text(engine: Engine, t: ibis.Table, net, only=None) -> ibis.BooleanValue | None:
    """Two passes, so the heavy one compares integers: (1) the distinct addresses that can be in
    the network (a string test reading one column), checked exactly in Python, which also copes
    with IPv6's many spellings (IPv4-mapped ones included); (2) the condition on those addresses'
    keys. An IPv4 network holding very many distinct addresses is filtered by its text in one
    pass instead (the dotted quad or ::ffff: and a dotted quad). ``only`` (a condition on ``t``)
    limits both passes to those rows. None: no row can match."""
    def maybe_in(table):  # may over-select (every IPv6 with an ffff group): checked in Python
        if net.version == 6:
            return table.src_ip.contains(":")
        return ipv4_in(table.src_ip, net) | table.src_ip.contains("ffff:")

    scan = t if only is None else t.filter(only)
    distinct = scan.filter(maybe_in(scan)).select("src_ip").distinct()  # one column; keys computed here
    if net.version == 4:  # IPv6 must be checked address by address: no text fallback for it
        distinct = distinct.limit(MAX_KEYED_ADDRESSES + 1)
    found = engine.to_arrow(distinct).column("src_ip").to_pylist()
    if len(found) > MAX_KEYED_ADDRESSES and net.version == 4:
        cond = ipv4_or_mapped_in(t.src_ip, net)
    else:
        keys = sorted({key_of(a) for a in found if in_network(a, net)})
        if not keys:
            return None
        cond = t.src_ip_key.isin(keys)
    return cond if only is None else only & cond


def by_employee(engine: Engine, workspace: Workspace, value: str) -> ibis.Table:
    """Everything an employee reached, directly or through what they held: their own requests
    (back office, actor = the employee), requests with credentials they own, and requests with
    tokens that the authorization server never issued, signed by a key they had custody of."""
    t = access(engine)
    cond = (t.actor_type == "employee") & (t.actor_id_key == key_of(value))
    credentials = optional_table(engine, "credentials")
    if credentials is not None:
        owned = engine.to_arrow(credentials.filter(credentials.owner_id == value).select("credential_id"))
        keys = [key_of(c) for c in owned.column("credential_id").to_pylist()]
        if keys:
            cond = cond | t.credential_id_key.isin(keys)
    custody = optional_table(engine, "key_custody")
    issuance = optional_table(engine, "issuance")
    if custody is not None and issuance is not None:
        kids = engine.to_arrow(custody.filter(custody.employee_id == value).select("kid").distinct())
        kids = kids.column("kid").to_pylist()
        if kids:
            unissued = ~t.credential_id_key.isin(issuance.token_id_key)
            cond = cond | (t.token_kid.isin(kids) & t.credential_id_key.notnull() & unissued)
    return t.filter(cond)


def by_incident(engine: Engine, workspace: Workspace, value: str, incident: dict | None = None) -> ibis.Table:
    """The incident's malicious requests (``incident``: the stored incident, when the caller
    has loaded it already)."""
    return incident_requests(engine, workspace, incident or value)


SELECTORS: dict[str, Callable] = {
    "incident": by_incident,
    "kid": by_kid,
    "credential": by_credential,
    "src_ip": by_src_ip,
    "actor": by_actor,
    "employee": by_employee,
}


def select_requests(engine: Engine, workspace: Workspace, selector: Selector) -> ibis.Table:
    """The access rows a selector names (before any time window)."""
    if selector.kind == "incident":
        return by_incident(engine, workspace, selector.value, selector.incident)
    return SELECTORS[selector.kind](engine, workspace, selector.value)
