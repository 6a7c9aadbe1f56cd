"""Fixed-width keys for high-cardinality strings (token ids, account ids, IPs, actors).

The lake stores, beside each such string column ``X``, a column ``X_key`` (BIGINT): the first
8 bytes of the MD5 digest of the UTF-8 string, read big-endian as a signed 64-bit integer;
NULL where the string is NULL. MD5 is used as a well-defined, fast, portable mix (not for
security): any engine, or this module, computes the same key from the same string, so an
indicator typed by an analyst is turned into a key without a lookup table. At 100 million
distinct values the chance of any collision is about 3 in 10,000.
"""

from __future__ import annotations

import hashlib

#: Which columns of which dataset get a ``<column>_key`` companion at ingest.
KEYED_COLUMNS: dict[str, tuple[str, ...]] = {
    "access": ("src_ip", "actor_id", "account_id", "credential_id", "session_id", "device_id",
               "user_agent", "request_id"),
    "issuance": ("token_id", "subject", "session_id", "src_ip", "device_id"),
}


def key_of(value: str | None) -> int | None:
    """The key of one string, as the lake stores it."""
    if value is None:
        return None
    return int.from_bytes(hashlib.md5(value.encode("utf-8")).digest()[:8], "big", signed=True)


# DuckDB computes the same key vectorised: the first 16 hex digits of md5 as UBIGINT, moved into
# BIGINT's range by two's complement (through HUGEINT, so nothing overflows).
def key_sql(column_sql: str) -> str:
    """A DuckDB SQL expression giving the key of ``column_sql``, bit-identical to :func:`key_of`."""
    u = f"CAST(('0x' || substr(md5({column_sql}), 1, 16)) AS UBIGINT)"
    return (f"CAST(CAST({u} AS HUGEINT) - CAST({u} >= 9223372036854775808 AS HUGEINT)"
            f" * 18446744073709551616 AS BIGINT)")
