"""Who the client is: the peer address, or, when the peer is a trusted reverse proxy, the address
that proxy saw (``X-Forwarded-For``).

``X-Forwarded-For`` is read only from proxies named as trusted (``--trusted-proxy`` or
``console.trusted_proxies``), and from the right: each proxy appends the address it received the
request from, so the first address that is not a trusted proxy is the client. Anything further
left was written by the client itself and is never believed. Without trusted proxies the header
is ignored: anyone could claim any address, and a fresh address would be a fresh login budget.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from custodes.errors import UsageError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_proxies(values: Iterable[str] | None, origin: str = "--trusted-proxy") -> tuple[Network, ...]:
    """Addresses or CIDR networks; a bad one is a usage error naming it."""
    nets = []
    for value in values or ():
        try:
            nets.append(ipaddress.ip_network(str(value).strip(), strict=False))
        except ValueError:
            raise UsageError(f"{origin}: {value!r} is not an IP address or network") from None
    return tuple(nets)


def _address(text: str):
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _trusted(address, proxies: tuple[Network, ...]) -> bool:
    if address is None:
        return False
    if getattr(address, "ipv4_mapped", None):
        address = address.ipv4_mapped
    return any(address.version == net.version and address in net for net in proxies)


def client_address(peer: str | None, forwarded_for: list[str], proxies: tuple[Network, ...]) -> str | None:
    """The client's address for a request from ``peer`` with these ``X-Forwarded-For`` headers."""
    current = _address(peer) if peer else None
    if not proxies or not _trusted(current, proxies):
        return peer
    hops = [hop for header in forwarded_for for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:  # not an address: stop at the last hop we could trust
            break
        current = address
        if not _trusted(current, proxies):
            break
    return str(current)
