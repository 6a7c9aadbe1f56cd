"""A small hand-made world whose blast radii are known by construction.

Legitimate customers c1-c5 read their own data with tokens that were issued (kid k-new, and c1
also once with the old key k-old). The forger uses k-old (custodian: e-ex, who left) with tokens
nobody issued, from 203.0.113.7 and 203.0.113.9, against c10, c11, c12. Employee e-cs reads c20
and c21 in the back office. e-dev's API key ak-1 pulls a bulk export.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from custodes import contract
from custodes.ids import KEYED_COLUMNS, key_of

UTC = dt.timezone.utc


def T(day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime(2025, 4, day, hour, minute, tzinfo=UTC)


def with_keys(dataset: str, rows: list[dict]) -> pa.Table:
    table = contract.conform(dataset, pa.Table.from_pylist(rows, schema=_partial_schema(dataset, rows)))
    for col in KEYED_COLUMNS.get(dataset, ()):
        keys = [key_of(v) for v in table.column(col).to_pylist()]
        table = table.append_column(f"{col}_key", pa.array(keys, pa.int64()))
    return table


def _partial_schema(dataset, rows):
    names = {k for r in rows for k in r}
    return pa.schema([c.field().with_nullable(True) for c in contract.columns(dataset) if c.name in names])


def req(time, route, actor_type="customer", actor_id=None, account_id=None, src_ip="10.0.0.5",
        credential_type="access_token", credential_id=None, token_kid=None, record_count=None,
        session_id=None):
    return dict(time=time, src_ip=src_ip, method="GET", route=route, status=200, actor_type=actor_type,
                actor_id=actor_id, account_id=account_id, record_count=record_count,
                credential_type=credential_type, credential_id=credential_id, token_kid=token_kid,
                session_id=session_id)


PROFILE, ADDRESSES, EDIT, ORDERS = "/api/v1/me/profile", "/api/v1/me/addresses", "/api/v1/me/addresses/{id}/edit", "/api/v1/me/orders"
PRODUCTS, ADMIN, EXPORT = "/api/v1/products", "/admin/customers/{id}", "/admin/export"

CATALOG = [
    dict(route=PROFILE, fields="name;email", bulk=False),
    dict(route=ADDRESSES, fields="name;phone;address", bulk=False),
    dict(route=EDIT, fields="address;entrance_code", bulk=False),
    dict(route=ORDERS, fields="order_history", bulk=False),
    dict(route=PRODUCTS, fields="", bulk=False),
    dict(route=ADMIN, fields="name;email;phone;address", bulk=False),
    dict(route=EXPORT, fields="name;email;phone", bulk=True),
]


def access_rows() -> list[dict]:
    rows = []
    for n in range(1, 6):  # legitimate customers, issued tokens, key k-new
        c = f"c{n}"
        rows.append(req(T(13, 9 + n), PROFILE, actor_id=c, credential_id=f"t-{c}", token_kid="k-new", session_id=f"s-{c}"))
        rows.append(req(T(14, 9 + n), ORDERS, actor_id=c, credential_id=f"t-{c}", token_kid="k-new", session_id=f"s-{c}"))
    rows.append(req(T(14, 8), ADDRESSES, actor_id="c1", credential_id="t-c1-old", token_kid="k-old"))
    forged = [  # (day, hour, account, route, ip)
        (14, 3, "c10", PROFILE, "203.0.113.7"), (14, 4, "c10", ADDRESSES, "203.0.113.7"),
        (14, 5, "c11", PROFILE, "203.0.113.9"), (15, 2, "c12", EDIT, "203.0.113.7"),
        (15, 3, "c12", PROFILE, "203.0.113.9"),
    ]
    for i, (day, hour, acct, route, ip) in enumerate(forged):
        rows.append(req(T(day, hour), route, actor_id=acct, src_ip=ip, credential_id=f"forged-{i}", token_kid="k-old"))
    for acct, hour in (("c20", 10), ("c21", 11), ("c20", 15)):
        rows.append(req(T(14, hour), ADMIN, actor_type="employee", actor_id="e-cs", account_id=acct,
                        src_ip="192.168.1.20", credential_type="session", credential_id=None, session_id="s-ecs"))
    rows.append(req(T(15, 1), EXPORT, actor_type="service", actor_id="exporter", src_ip="198.51.100.4",
                    credential_type="api_key", credential_id="ak-1", record_count=500))
    rows.append(req(T(15, 1, 5), EXPORT, actor_type="service", actor_id="exporter", account_id="c3",
                    src_ip="198.51.100.4", credential_type="api_key", credential_id="ak-1", record_count=1))
    rows.append(req(T(14, 12), PRODUCTS, actor_type="anonymous", src_ip="203.0.113.7", credential_type="none"))
    rows.append(req(T(14, 13), PROFILE, actor_id="c4", src_ip="2001:db8::10", credential_id="t-c4", token_kid="k-new"))
    return rows


def issuance_rows() -> list[dict]:
    rows = []
    for n in range(1, 6):
        c = f"c{n}"
        rows.append(dict(time=T(13, 8), token_id=f"t-{c}", kid="k-new", subject=c, actor_type="customer",
                         session_id=f"s-{c}", iat=T(13, 8), exp=T(20, 8)))
    rows.append(dict(time=T(14, 7), token_id="t-c1-old", kid="k-old", subject="c1", actor_type="customer",
                     iat=T(14, 7), exp=T(14, 9)))
    rows.append(dict(time=T(14, 9), token_id="t-ecs", kid="k-emp", subject="e-cs", actor_type="employee",
                     session_id="s-ecs", iat=T(14, 9), exp=T(20, 9)))
    return rows


WORKFORCE = [
    dict(employee_id="e-ex", name="Ex Developer", hired_at=T(1), terminated_at=T(10)),
    dict(employee_id="e-cs", name="CS Agent", hired_at=T(1)),
    dict(employee_id="e-dev", name="Data Engineer", hired_at=T(1), terminated_at=T(30)),
]
CREDENTIALS = [
    dict(credential_id="ak-1", credential_type="api_key", owner_id="e-dev", created_at=T(1)),
    dict(credential_id="ak-2", credential_type="personal_token", owner_id="e-dev", created_at=T(1), revoked_at=T(5)),
    dict(credential_id="ak-3", credential_type="ssh_key", owner_id="e-ex", created_at=T(1)),
]
KEYS = [
    dict(kid="k-old", alg="ES256", purpose="customer_access_token", storage="file", created_at=T(1)),
    dict(kid="k-new", alg="ES256", purpose="customer_access_token", storage="kms", created_at=T(2)),
    dict(kid="k-emp", alg="ES256", purpose="employee_session", storage="hsm", created_at=T(1), retired_at=T(12)),
]
CUSTODY = [
    dict(kid="k-old", employee_id="e-ex", granted_at=T(1)),
    dict(kid="k-emp", employee_id="e-ex", granted_at=T(1)),
    dict(kid="k-new", employee_id="e-dev", granted_at=T(2)),
]
CUSTOMERS = [dict(account_id=f"c{n}", name=f"Customer {n}", email=f"c{n}@example.com", phone=f"010-0000-{n:04d}")
             for n in list(range(1, 6)) + [10, 11, 12, 20, 21]]


def register_world(engine, with_issuance=True):
    engine.register("access", with_keys("access", access_rows()))
    engine.register("catalog", with_keys("catalog", CATALOG))
    engine.register("workforce", with_keys("workforce", WORKFORCE))
    engine.register("credentials", with_keys("credentials", CREDENTIALS))
    engine.register("keys", with_keys("keys", KEYS))
    engine.register("key_custody", with_keys("key_custody", CUSTODY))
    engine.register("customers", with_keys("customers", CUSTOMERS))
    if with_issuance:
        engine.register("issuance", with_keys("issuance", issuance_rows()))
    return engine


@pytest.fixture
def world(workspace):
    from custodes.engine import connect

    engine = register_world(connect(workspace, "duckdb"))
    yield engine
    engine.close()


def write_lake(workspace, dataset: str, table: pa.Table, seq: int = 1) -> None:
    """Store a table the way the lake does (docs/ARCHITECTURE.md): event datasets by UTC day."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from custodes.lake.manifest import commit_files

    table = table.append_column("_seq", pa.array([seq] * table.num_rows, pa.int64()))
    table = table.append_column("_row", pa.array(range(1, table.num_rows + 1), pa.int64()))
    root = workspace.dataset_dir(dataset)
    if dataset not in contract.EVENT_TIME_COLUMN:
        root.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, root / f"part-{seq:06d}.parquet")
        commit_files(workspace, dataset, [root / f"part-{seq:06d}.parquet"])  # queries read sealed files only
        return
    days = pc.strftime(table.column("time"), format="%Y-%m-%d")
    written = []
    for day in sorted(set(days.to_pylist())):
        part = root / f"date={day}"
        part.mkdir(parents=True, exist_ok=True)
        written.append(part / f"part-{seq:06d}.parquet")
        pq.write_table(table.filter(pc.equal(days, day)), written[-1])
    commit_files(workspace, dataset, written)


def store_world(workspace, with_issuance=True):
    write_lake(workspace, "access", with_keys("access", access_rows()))
    for name, rows in (("catalog", CATALOG), ("workforce", WORKFORCE), ("credentials", CREDENTIALS),
                       ("keys", KEYS), ("key_custody", CUSTODY), ("customers", CUSTOMERS)):
        write_lake(workspace, name, with_keys(name, rows))
    if with_issuance:
        write_lake(workspace, "issuance", with_keys("issuance", issuance_rows()))
    return workspace


@pytest.fixture
def lake_ws(workspace):
    return store_world(workspace)


@pytest.fixture
def fake_detect(monkeypatch):
    from .fakes import install_fake_detect

    install_fake_detect(monkeypatch.setattr)
