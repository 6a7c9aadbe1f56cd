"""``src_ip``: validated, canonical, keyed and turned into ``src_ip_v4`` on each batch's
distinct values, then spread back to the rows with ``take``.

Addresses repeat heavily in access logs (a customer's phone, an office NAT), so the checks and
the hash run once per distinct address of a batch instead of once per row (row by row when a
sample shows they hardly repeat). Dotted IPv4 is checked and converted with Arrow compute;
other values go through DuckDB's IPv6 checks; the few a regex leaves unsure (rare spellings,
bad values) are decided by Python's ``ipaddress``. Stored:

- ``src_ip``: the address as given for IPv4, lower-cased for IPv6;
- ``src_ip_key``: ``custodes.ids.key_of`` of that (see :mod:`custodes.lake.keys`);
- ``src_ip_v4`` (BIGINT): the IPv4 address as its unsigned 32-bit value (10.0.0.1 ->
  167772161), also for an IPv4-mapped IPv6 address (``::ffff:10.0.0.1``, ``::ffff:a00:1``);
  NULL for any other IPv6 address and for a NULL ``src_ip``. Scope filters CIDRs with
  ``src_ip_v4 BETWEEN lo AND hi``.

A value that is neither IPv4 nor IPv6 makes its row ``bad_ip``, unless an earlier column (in
contract order) already made it bad: the quarantine names the first bad column, as it did when
this check ran inside the validating query.

What an IPv4-mapped address is, is decided here only: at ingest (``src_ip_v4``), and for scope
reading back rows stored without that column (:func:`in_network`, :func:`ipv4_or_mapped_in`).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from custodes import contract
from custodes.lake.arrays import bools, int64s, numbers, truths, valid_mask
from custodes.lake.keys import distinct_values, hash_values
from custodes.lake.validate import IP_COLUMNS, IPV4, IPV6

if TYPE_CHECKING:  # ingest never imports ibis; scope's conditions below take its columns
    import ibis

#: the column holding an address's IPv4 number (docs/ARCHITECTURE.md)
IPV4_COLUMN = "src_ip_v4"

_Z = "0{1,4}:"
_H = "[0-9a-f]{1,4}"
#: ``::ffff:`` and the spellings of the same 96-bit prefix (``0:0:0:0:0:ffff:``, ``0::ffff:``).
MAPPED_PREFIX = f"(?:(?:{_Z}){{5}}|(?:(?:{_Z}){{1,4}}|:):(?:{_Z}){{0,4}})ffff:"
MAPPED_DOTTED = f"{MAPPED_PREFIX}{IPV4}"
MAPPED_HEX = f"{MAPPED_PREFIX}({_H}):({_H})"


def _dotted_sql(v: str) -> str:
    parts = [f"CAST(split_part({v}, '.', {i}) AS BIGINT)" for i in (1, 2, 3, 4)]
    return f"({parts[0]} * 16777216 + {parts[1]} * 65536 + {parts[2]} * 256 + {parts[3]})"


def _hex_sql(v: str, group: int) -> str:
    return f"CAST('0x' || regexp_extract({v}, '{MAPPED_HEX}', {group}) AS BIGINT)"


#: For the values that are not dotted IPv4 (IPv6, or bad): canonical form (NULL when not an
#: address) and the v4 value of a mapped address.
_V6_SQL = f"""
SELECT ip, CASE
    WHEN ip IS NULL THEN NULL
    WHEN regexp_full_match(ip, '{MAPPED_DOTTED}') THEN {_dotted_sql("regexp_extract(ip, '[0-9.]+$')")}
    WHEN regexp_full_match(ip, '{MAPPED_HEX}') THEN {_hex_sql('ip', 1)} * 65536 + {_hex_sql('ip', 2)}
  END AS v4, ip IS NOT NULL AND contains(ip, 'ffff') AS maybe_mapped
FROM (SELECT CASE WHEN regexp_full_match(v, '{IPV6}') THEN lower(v) END AS ip FROM _ips_in)
"""
_IPV4_ANCHORED = f"^{IPV4}$"
_OCTETS = np.array([16777216, 65536, 256, 1], dtype=np.int64)


def ip_column(dataset: str) -> str | None:
    return "src_ip" if (dataset, "src_ip") in IP_COLUMNS else None


def _dotted(values: pa.Array) -> np.ndarray:
    """The 32-bit values of valid dotted quads, by Arrow's split and cast (a third of the cost
    of four split_part calls in SQL)."""
    octets = numbers(pc.cast(pc.split_pattern(values, ".").flatten(), pa.int64()))
    return octets.reshape(-1, 4) @ _OCTETS


def _typed_distinct(con, values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(canonical address or NULL, v4 value or NULL) for each value. Dotted IPv4, the common
    case, is checked and converted in Arrow; the rest goes through DuckDB's IPv6 checks."""
    n = len(values)
    is4 = truths(pc.match_substring_regex(values, _IPV4_ANCHORED))
    v4 = np.zeros(n, dtype=np.int64)
    has_v4 = is4.copy()
    idx4 = np.flatnonzero(is4)
    if len(idx4):
        v4[idx4] = _dotted(values.take(int64s(idx4)))
    ip = values
    idx6 = np.flatnonzero(valid_mask(values) & ~is4)
    if len(idx6):
        ip6, v4_6 = _typed_other(con, values.take(int64s(idx6)))
        mask = np.zeros(n, dtype=bool)
        mask[idx6] = True
        ip = pc.replace_with_mask(values, bools(mask), ip6)
        found = valid_mask(v4_6)
        v4[idx6[found]] = numbers(pc.drop_null(v4_6))
        has_v4[idx6[found]] = True
    return ip, int64s(v4, has_v4)


def _typed_other(con, values: pa.Array) -> tuple[pa.Array, pa.Array]:
    con.register("_ips_in", pa.table({"v": values}))
    try:
        out = con.sql(_V6_SQL).to_arrow_table()
    finally:
        con.unregister("_ips_in")
    ip, v4 = out.column("ip").combine_chunks(), out.column("v4").combine_chunks()
    unsure = pc.or_(pc.and_(out.column("maybe_mapped").combine_chunks(), pc.is_null(v4)), pc.is_null(ip))
    if pc.any(unsure).as_py():
        ip, v4 = _by_the_standard_library(values, ip, v4, unsure)
    return ip, v4


def _by_the_standard_library(values: pa.Array, ip: pa.Array, v4: pa.Array, unsure: pa.Array):
    """Exact answers, from Python's ipaddress, for the few distinct values the regexes leave
    unsure: spellings they do not cover (``0::ffff:10.0.0.1``, ``0:0:0:0:0:ffff::``) and values
    they reject (bad addresses: quarantined rows, each costlier than this parse)."""
    ips, v4s = ip.to_pylist(), v4.to_pylist()
    for i in pc.indices_nonzero(unsure).to_pylist():
        text = values[i].as_py()
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            continue
        if "%" in text:
            continue  # a zone index names an interface of the logging host, not a client
        ips[i] = text if addr.version == 4 else text.lower()
        mapped = as_ipv4(addr)
        v4s[i] = int(mapped) if mapped is not None else None
    return pa.array(ips, pa.string()), pa.array(v4s, pa.int64())


def as_ipv4(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address itself, or the one an IPv4-mapped IPv6 address carries (what
    ``src_ip_v4`` holds); None for any other IPv6 address."""
    return address if address.version == 4 else address.ipv4_mapped


# Reading it back: conditions over the stored text, for rows stored without src_ip_v4 ------
DOTTED_QUAD = r"^([0-9]{1,3})[.]([0-9]{1,3})[.]([0-9]{1,3})[.]([0-9]{1,3})$"

#: how the lake spells an IPv4-mapped IPv6 address most often (lower case, docs/lake.md)
MAPPED_SPELLING = "::ffff:"


def ipv4_in(column: ibis.StringValue, net: ipaddress.IPv4Network) -> ibis.BooleanValue:
    """Is the dotted-quad in ``net``? A cheap string-prefix test on the whole octets the prefix
    fixes rules out nearly every row before the exact integer comparison parses any address."""
    fixed = net.prefixlen // 8
    prefix = ".".join(str(net.network_address).split(".")[:fixed])
    cond = column.startswith(prefix + ".") if fixed else ~column.contains(":")
    if net.prefixlen % 8 == 0:
        return cond
    # Regex, not split: Spark's SPLIT takes a regex, so "." would split on every character.
    # The CASE keeps malformed strings away from the cast (Spark's ANSI cast raises on them).
    octet = [column.re_extract(DOTTED_QUAD, n).cast("int64") for n in (1, 2, 3, 4)]
    number = octet[0] * 16777216 + octet[1] * 65536 + octet[2] * 256 + octet[3]
    import ibis  # here, not above: ingest imports this module and must not pay for ibis

    number = ibis.ifelse(column.re_search(DOTTED_QUAD), number, ibis.null("int64"))
    low, high = int(net.network_address), int(net.broadcast_address)
    return cond & number.between(low, high)


def ipv4_or_mapped_in(column: ibis.StringValue, net: ipaddress.IPv4Network) -> ibis.BooleanValue:
    """``ipv4_in`` for the address or its IPv4-mapped IPv6 spelling (::ffff:a.b.c.d), which the
    lake's ``src_ip_v4`` also holds as the IPv4 number."""
    mapped = column.startswith(MAPPED_SPELLING) & ipv4_in(column.substr(len(MAPPED_SPELLING)), net)
    return ipv4_in(column, net) | mapped


def in_network(text: str, net) -> bool:
    """Exact membership, address by address; an IPv4 network also holds IPv4-mapped IPv6
    addresses (in every spelling), as ``src_ip_v4`` does."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    if net.version == 4:
        v4 = as_ipv4(address)
        return v4 is not None and v4 in net
    return address in net


def type_ips(con, dataset: str, result: pa.Table) -> pa.Table:
    """Canonical ``src_ip``, ``src_ip_key``, ``src_ip_v4``, and ``bad_ip`` problems, for a batch
    as the validating query returns it (``src_ip`` raw text, ``_problem``)."""
    col = ip_column(dataset)
    if col is None:
        return result
    raw = result.column(col).combine_chunks()
    distinct, indices = distinct_values(raw)  # indices None: hardly repeats, typed row by row
    ip, v4 = _typed_distinct(con, distinct.cast(pa.string()))
    keys = hash_values(con, ip)
    spread = (lambda a: a) if indices is None else (lambda a: pc.take(a, indices))
    canonical = spread(ip)
    bad = pc.and_(pc.is_valid(raw), pc.is_null(canonical))
    if pc.any(bad).as_py():
        result = result.set_column(result.column_names.index("_problem"), "_problem",
                                   _problems(dataset, col, result.column("_problem"), raw, bad))
    result = result.set_column(result.column_names.index(col), col, canonical)
    result = result.append_column(f"{col}_key", spread(keys))
    return result.append_column(f"{col}_v4", spread(v4))


def _problems(dataset: str, col: str, problem, raw: pa.Array, bad: pa.Array) -> pa.Array:
    """``bad_ip`` where the address is bad and no earlier column (nor the whole row) was."""
    problem = problem.combine_chunks() if isinstance(problem, pa.ChunkedArray) else problem
    if pa.types.is_dictionary(raw.type):
        raw = raw.cast(pa.string())
    names = [c.name for c in contract.columns(dataset)]
    earlier = pa.array([""] + names[:names.index(col)])
    first = pc.and_(bad, pc.invert(pc.fill_null(pc.is_in(pc.struct_field(problem, "column"), earlier), False)))
    n = len(raw)
    ours = pa.StructArray.from_arrays(
        [pa.repeat(pa.scalar(col), n).cast(pa.string()), pa.repeat(pa.scalar("bad_ip"), n).cast(pa.string()),
         pc.utf8_slice_codeunits(raw, 0, 200)],
        fields=list(problem.type))
    return pc.if_else(first, ours, problem)
