"""The simulated Internet: address blocks by autonomous system and country, as tables.

Prefixes are real allocations of the named networks (as of 2025, to the best of public
registries), so addresses look like what an analyst sees in a Korean platform's logs. The
simulator draws addresses inside them; it never needs to be exact about who owns what.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from custodes.simulate.strings import fixed_width, hex_digits, ints_as_text, join


@dataclass(frozen=True)
class Block:
    asn: int
    country: str
    network: str  # CIDR
    kind: str     # "fixed", "mobile", "hosting", "office"


#: Korean consumer networks: fixed broadband and mobile carriers.
DOMESTIC: tuple[Block, ...] = (
    Block(4766, "KR", "14.32.0.0/11", "fixed"),        # KT
    Block(4766, "KR", "121.128.0.0/10", "fixed"),      # KT
    Block(4766, "KR", "175.192.0.0/10", "fixed"),      # KT
    Block(9318, "KR", "58.120.0.0/13", "fixed"),       # SK Broadband
    Block(9318, "KR", "218.48.0.0/13", "fixed"),       # SK Broadband
    Block(9318, "KR", "1.224.0.0/11", "fixed"),        # SK Broadband
    Block(3786, "KR", "1.208.0.0/12", "fixed"),        # LG U+ (DACOM)
    Block(17858, "KR", "61.72.0.0/13", "fixed"),       # LG POWERCOMM
)

#: Mobile carriers put many subscribers behind a few carrier-grade NAT addresses.
CARRIER_NAT: tuple[Block, ...] = (
    Block(9644, "KR", "223.38.0.0/16", "mobile"),      # SK Telecom
    Block(9644, "KR", "223.62.0.0/16", "mobile"),      # SK Telecom
    Block(4766, "KR", "39.7.0.0/16", "mobile"),        # KT mobile
    Block(17858, "KR", "106.101.0.0/16", "mobile"),    # LG U+ mobile
)

#: IPv6 home networks (a share of fixed-line customers).
DOMESTIC_V6: tuple[Block, ...] = (
    Block(9644, "KR", "2001:2d8::/32", "fixed"),       # SK Telecom
    Block(4766, "KR", "2001:e60::/32", "fixed"),       # KT
    Block(17858, "KR", "2001:4430::/32", "fixed"),     # LG U+
)

#: Hosting providers abroad: where a forger rents servers.
HOSTING_ABROAD: tuple[Block, ...] = (
    Block(16509, "US", "54.144.0.0/12", "hosting"),    # Amazon us-east-1
    Block(16509, "SG", "18.136.0.0/16", "hosting"),    # Amazon ap-southeast-1
    Block(14061, "SG", "159.89.192.0/18", "hosting"),  # DigitalOcean Singapore
    Block(24940, "DE", "95.216.0.0/15", "hosting"),    # Hetzner
    Block(20473, "JP", "45.76.96.0/19", "hosting"),    # Vultr Tokyo
    Block(45102, "HK", "47.242.0.0/15", "hosting"),    # Alibaba Cloud Hong Kong
)

#: Where travelling customers show up from.
ABROAD_CONSUMER: tuple[Block, ...] = (
    Block(2516, "JP", "106.128.0.0/10", "fixed"),      # KDDI
    Block(7922, "US", "73.0.0.0/8", "fixed"),          # Comcast
    Block(45899, "VN", "113.160.0.0/11", "fixed"),     # VNPT
)

#: The platform's own head office.
OFFICE = Block(4766, "KR", "211.234.56.0/24", "office")
OFFICE_NAT_IP = "211.234.56.10"
#: Internal services reach the gateway from the private network.
INTERNAL_NETWORK = "10.20.0.0/16"


def draw_ipv4(rng: np.random.Generator, blocks: tuple[Block, ...], n: int,
              weights: np.ndarray | None = None) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """n random IPv4 addresses from ``blocks``: (address strings, block index, uint32 address)."""
    which = rng.choice(len(blocks), size=n, p=weights)
    nets = [ipaddress.ip_network(b.network) for b in blocks]
    base = np.array([int(net.network_address) for net in nets], dtype=np.uint64)
    size = np.array([net.num_addresses for net in nets], dtype=np.uint64)
    # Skip .0 and .255 so nothing looks like a network or broadcast address.
    offset = (rng.random(n) * size[which]).astype(np.uint64)
    addr = base[which] + offset
    last = addr & np.uint64(255)
    addr = np.where(last == 0, addr + 1, np.where(last == 255, addr - 1, addr))
    return ipv4_text(addr), which, addr.astype(np.uint32)


def ipv4_text(addr: np.ndarray) -> pa.Array:
    addr = np.asarray(addr, dtype=np.uint64)
    octets = [ints_as_text((addr >> np.uint64(s)) & np.uint64(255)) for s in (24, 16, 8, 0)]
    return join(octets, ".")


def draw_ipv6(rng: np.random.Generator, blocks: tuple[Block, ...], n: int) -> tuple[pa.Array, np.ndarray]:
    """n random /64 home addresses in the /32 ``blocks``, written compressed the usual way."""
    which = rng.choice(len(blocks), size=n)
    prefixes = [str(ipaddress.ip_network(b.network).network_address).rstrip(":") for b in blocks]
    head = pa.array(prefixes, pa.string()).take(pa.array(which))
    # Groups of four hex digits (no leading zero to strip): the /64, then '::', then the host.
    groups = rng.integers(0x1000, 0x10000, size=(n, 4)).astype(np.uint64)
    words = (groups[:, 0] << np.uint64(48)) | (groups[:, 1] << np.uint64(32)) | \
            (groups[:, 2] << np.uint64(16)) | groups[:, 3]
    digits = hex_digits(words)
    colon = np.full((n, 1), ord(":"), np.uint8)
    tail = fixed_width(np.concatenate([colon, digits[:, 0:4], colon, digits[:, 4:8], colon, colon,
                                       digits[:, 8:12], colon, digits[:, 12:16]], axis=1))
    return join([head, tail]), which
