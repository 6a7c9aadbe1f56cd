"""The six reference datasets, as the platform's systems would export them, from the world."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from custodes import contract
from custodes.simulate import catalog
from custodes.simulate.records import column
from custodes.simulate.world import World


def _table(dataset: str, rows: list[dict]) -> pa.Table:
    arrays = {}
    for col in contract.columns(dataset):
        values = [row.get(col.name) for row in rows]
        if col.kind == "timestamp":
            present = np.array([v if v is not None else 0 for v in values], dtype=np.int64)
            mask = pa.array([v is None for v in values], pa.bool_())
            arrays[col.name] = pa.array(present, pa.int64(), mask=mask.to_numpy(zero_copy_only=False)).view(
                contract.TIMESTAMP) if rows else column("timestamp", None, 0)
        else:
            arrays[col.name] = pa.array(values, col.arrow_type)
    return contract.conform(dataset, pa.table(arrays))


def workforce(world: World) -> pa.Table:
    return _table("workforce", [
        {"employee_id": e.employee_id, "name": e.name, "department": e.department, "role": e.role,
         "manager_id": e.manager_id, "hired_at": e.hired_at, "terminated_at": e.terminated_at}
        for e in world.employees])


def credentials(world: World) -> pa.Table:
    return _table("credentials", [vars(c) for c in world.credentials])


def keys(world: World) -> pa.Table:
    return _table("keys", [vars(k) for k in world.keys])


def key_custody(world: World) -> pa.Table:
    return _table("key_custody", [vars(c) for c in world.custody])


def customers(world: World) -> pa.Table:
    c = world.customers
    return contract.conform("customers", pa.table({
        "account_id": c.account_id, "name": c.contact["name"], "email": c.contact["email"],
        "phone": c.contact["phone"]}))


def catalog_table(world: World) -> pa.Table:
    return catalog.catalog_table()


#: file name -> (dataset, builder); the order is the order they are written.
REFERENCE_FILES = {
    "workforce.csv": ("workforce", workforce),
    "credentials.csv": ("credentials", credentials),
    "keys.csv": ("keys", keys),
    "key_custody.csv": ("key_custody", key_custody),
    "catalog.csv": ("catalog", catalog_table),
    "customers.parquet": ("customers", customers),
}
