"""The eight input datasets of CONTRACT.md §1, as Arrow schemas.

This module is the single source of truth for column names, types and which
columns are required. The simulator writes through it, ingestion validates
through it, and ``tests/test_contract.py`` fails when it and CONTRACT.md's
tables disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

#: Every timestamp in custodes is UTC, microsecond precision.
TIMESTAMP = pa.timestamp("us", tz="UTC")

_ARROW_TYPES = {
    "timestamp": TIMESTAMP,
    "string": pa.string(),
    "int": pa.int64(),
    "bool": pa.bool_(),
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "timestamp" | "string" | "int" | "bool", as CONTRACT.md spells it
    required: bool = False

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW_TYPES[self.kind]

    def field(self) -> pa.Field:
        return pa.field(self.name, self.arrow_type, nullable=not self.required)


def _cols(spec: str) -> tuple[Column, ...]:
    """Parse a compact ``name:kind[!]`` list; ``!`` marks a required column."""
    out = []
    for item in spec.split():
        name, kind = item.split(":")
        required = kind.endswith("!")
        out.append(Column(name, kind.rstrip("!"), required))
    return tuple(out)


DATASETS: dict[str, tuple[Column, ...]] = {
    "access": _cols(
        "time:timestamp! request_id:string src_ip:string! user_agent:string device_id:string "
        "geo_country:string asn:int method:string! route:string! status:int! bytes_out:int "
        "actor_type:string! actor_id:string account_id:string record_count:int "
        "credential_type:string! credential_id:string token_kid:string token_iat:timestamp "
        "token_exp:timestamp session_id:string"
    ),
    "issuance": _cols(
        "time:timestamp! token_id:string! kid:string! subject:string! actor_type:string! "
        "session_id:string client_id:string grant:string iat:timestamp! exp:timestamp! "
        "src_ip:string device_id:string"
    ),
    "workforce": _cols(
        "employee_id:string! name:string department:string role:string manager_id:string "
        "hired_at:timestamp! terminated_at:timestamp"
    ),
    "credentials": _cols(
        "credential_id:string! credential_type:string! owner_id:string! created_at:timestamp! "
        "expires_at:timestamp revoked_at:timestamp scopes:string"
    ),
    "keys": _cols(
        "kid:string! alg:string! purpose:string storage:string created_at:timestamp! "
        "retired_at:timestamp"
    ),
    "key_custody": _cols(
        "kid:string! employee_id:string! granted_at:timestamp! revoked_at:timestamp"
    ),
    "catalog": _cols("route:string! fields:string! bulk:bool"),
    "customers": _cols("account_id:string! name:string email:string phone:string"),
}

DATASET_NAMES: tuple[str, ...] = tuple(DATASETS)

#: Closed vocabularies. A value outside these is a quarantine reason at ingest.
ENUMS: dict[tuple[str, str], frozenset[str]] = {
    ("access", "actor_type"): frozenset({"customer", "employee", "service", "anonymous"}),
    ("issuance", "actor_type"): frozenset({"customer", "employee", "service", "anonymous"}),
    ("access", "credential_type"): frozenset({"access_token", "api_key", "session", "mtls", "none"}),
    ("credentials", "credential_type"): frozenset(
        {"api_key", "service_account", "ssh_key", "oauth_client", "personal_token"}
    ),
    ("issuance", "grant"): frozenset(
        {"password", "authorization_code", "refresh_token", "sso", "client_credentials"}
    ),
    ("keys", "storage"): frozenset({"hsm", "kms", "vault", "file"}),
}

#: Personal-data items the contract names for catalog.fields; operators may add others.
PERSONAL_DATA_ITEMS: tuple[str, ...] = (
    "name", "email", "phone", "address", "entrance_code", "order_history",
    "payment", "birth_date", "national_id",
)

#: Time-ordered datasets are partitioned by day of this column; the rest are reference tables.
EVENT_TIME_COLUMN: dict[str, str] = {"access": "time", "issuance": "time"}


def columns(dataset: str) -> tuple[Column, ...]:
    try:
        return DATASETS[dataset]
    except KeyError:
        raise KeyError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASET_NAMES)}") from None


def required_columns(dataset: str) -> tuple[str, ...]:
    return tuple(c.name for c in columns(dataset) if c.required)


def schema(dataset: str) -> pa.Schema:
    """The dataset's Arrow schema; required columns are non-nullable."""
    return pa.schema([c.field() for c in columns(dataset)])


def empty_table(dataset: str) -> pa.Table:
    return schema(dataset).empty_table()


def conform(dataset: str, table: pa.Table) -> pa.Table:
    """Order and cast a table's contract columns to the schema; keep unknown extras at the end.

    Missing optional columns are added as nulls. Missing required columns raise ValueError.
    Used by writers that already produce clean data (the simulator); ingestion does its own
    row-level validation before calling this.
    """
    missing = [c for c in required_columns(dataset) if c not in table.column_names]
    if missing:
        raise ValueError(f"{dataset}: missing required column(s) {', '.join(missing)}")
    arrays, fields = [], []
    for col in columns(dataset):
        if col.name in table.column_names:
            arr = table.column(col.name)
            if arr.type != col.arrow_type:
                arr = arr.cast(col.arrow_type)
        else:
            arr = pa.nulls(table.num_rows, col.arrow_type)
        arrays.append(arr)
        fields.append(pa.field(col.name, col.arrow_type, nullable=True))
    known = {c.name for c in columns(dataset)}
    for name in table.column_names:
        if name not in known:
            arrays.append(table.column(name))
            fields.append(table.schema.field(name))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))

#: Reference datasets are snapshots an operator re-exports; a row is identified by these columns
#: and the most recently ingested version of it is the current one (see Engine.table).
PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "workforce": ("employee_id",),
    "credentials": ("credential_id",),
    "keys": ("kid",),
    "key_custody": ("kid", "employee_id", "granted_at"),
    "catalog": ("route",),
    "customers": ("account_id",),
}
