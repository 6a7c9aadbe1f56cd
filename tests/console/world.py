"""A small hand-made world for the console's tests: a lake on disk in the layout of
docs/ARCHITECTURE.md (contract columns, ``<col>_key``, ``_seq``, ``_row``), and findings and
incidents shaped as CONTRACT.md §3.

The story: employee e-101 had custody of signing key k-2019 and left on 2024-12-20; the key was
never rotated. From 2025-04-14, thirty customer accounts are read with tokens signed by k-2019
from 203.0.113.7. Employee e-103 left on 2025-02-01 and their API key ak-1 still works and pulls
a bulk export on 2025-04-15. Fifty real customers use tokens signed by the current key k-2025.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq

from custodes import contract
from custodes.ids import KEYED_COLUMNS, key_of
from custodes.lake.manifest import commit_files

UTC = dt.timezone.utc
FORGED_ACCOUNTS = [f"c-{1000 + i}" for i in range(30)]
REAL_ACCOUNTS = [f"c-{i:04d}" for i in range(1, 51)]


def t(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def _write(workspace, dataset: str, rows: list[dict], seq: int, part: str = "") -> None:
    table = contract.conform(dataset, pa.Table.from_pylist(rows, schema=contract.schema(dataset)))
    for col in KEYED_COLUMNS.get(dataset, ()):
        table = table.append_column(f"{col}_key", pa.array([key_of(v) for v in table.column(col).to_pylist()], pa.int64()))
    table = table.append_column("_seq", pa.array([seq] * table.num_rows, pa.int64()))
    table = table.append_column("_row", pa.array(range(1, table.num_rows + 1), pa.int64()))
    folder = workspace.dataset_dir(dataset) / part if part else workspace.dataset_dir(dataset)
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / f"part-{seq:06d}.parquet")
    commit_files(workspace, dataset, [folder / f"part-{seq:06d}.parquet"])  # queries read sealed files only


def _request(time, account, route="/api/v1/me/profile", kid="k-2025", ip="198.51.100.20",
             credential_type="access_token", credential=None, actor_type="customer", actor=None,
             records=None, status=200):
    return {
        "time": time, "src_ip": ip, "method": "GET", "route": route, "status": status,
        "actor_type": actor_type, "actor_id": actor if actor is not None else account,
        "account_id": account if actor_type != "customer" else None, "record_count": records,
        "credential_type": credential_type, "credential_id": credential or f"jti-{account}-{time:%d%H%M}",
        "token_kid": kid if credential_type == "access_token" else None, "user_agent": "ShopApp/7.2 (iOS 18)",
        "geo_country": "KR" if ip.startswith("198.") else "NL",
    }


def access_rows() -> dict[str, list[dict]]:
    days: dict[str, list[dict]] = {}
    for d in (14, 15, 16):
        rows = days.setdefault(f"2025-04-{d}", [])
        for n, acct in enumerate(REAL_ACCOUNTS):
            rows.append(_request(t(f"2025-04-{d}T09:00:00") + dt.timedelta(minutes=n), acct))
            rows.append(_request(t(f"2025-04-{d}T12:00:00") + dt.timedelta(minutes=n), acct, route="/api/v1/products"))
    for i, acct in enumerate(FORGED_ACCOUNTS):
        day = 14 + i % 3
        when = t(f"2025-04-{day}T03:00:00") + dt.timedelta(minutes=i)
        days[f"2025-04-{day}"].append(_request(when, acct, kid="k-2019", ip="203.0.113.7"))
        days[f"2025-04-{day}"].append(_request(when + dt.timedelta(seconds=20), acct, kid="k-2019",
                                               ip="203.0.113.7", route="/api/v1/me/addresses"))
    days["2025-04-15"].append(_request(t("2025-04-15T22:10:00"), None, route="/admin/export",
                                       credential_type="api_key", credential="ak-1", actor_type="employee",
                                       actor="e-103", records=100, ip="192.0.2.44"))
    return days


REFERENCE = {
    "keys": [
        {"kid": "k-2019", "alg": "ES256", "purpose": "customer_access_token", "storage": "file", "created_at": t("2019-01-01T00:00:00")},
        {"kid": "k-2025", "alg": "ES256", "purpose": "customer_access_token", "storage": "kms", "created_at": t("2025-01-01T00:00:00")},
        {"kid": "k-old", "alg": "RS256", "purpose": "customer_access_token", "storage": "hsm", "created_at": t("2017-01-01T00:00:00"), "retired_at": t("2019-02-01T00:00:00")},
    ],
    "key_custody": [
        {"kid": "k-2019", "employee_id": "e-101", "granted_at": t("2019-01-01T00:00:00")},
        {"kid": "k-2019", "employee_id": "e-102", "granted_at": t("2019-06-01T00:00:00")},
        {"kid": "k-2025", "employee_id": "e-102", "granted_at": t("2025-01-01T00:00:00")},
        {"kid": "k-old", "employee_id": "e-101", "granted_at": t("2017-01-01T00:00:00")},
    ],
    "workforce": [
        {"employee_id": "e-101", "name": "Departed Custodian", "hired_at": t("2018-03-01T00:00:00"), "terminated_at": t("2024-12-20T00:00:00")},
        {"employee_id": "e-102", "name": "Current Custodian", "hired_at": t("2018-03-01T00:00:00")},
        {"employee_id": "e-103", "name": "Departed Analyst", "hired_at": t("2020-03-01T00:00:00"), "terminated_at": t("2025-02-01T00:00:00")},
        {"employee_id": "e-104", "name": "Future Leaver", "hired_at": t("2021-03-01T00:00:00"), "terminated_at": t("2025-12-31T00:00:00")},
    ],
    "credentials": [
        {"credential_id": "ak-1", "credential_type": "api_key", "owner_id": "e-103", "created_at": t("2023-01-01T00:00:00")},
        {"credential_id": "ak-2", "credential_type": "api_key", "owner_id": "e-104", "created_at": t("2023-01-01T00:00:00")},
        {"credential_id": "ak-3", "credential_type": "api_key", "owner_id": "e-101", "created_at": t("2023-01-01T00:00:00"), "revoked_at": t("2024-12-20T00:00:00")},
        {"credential_id": "ak-4", "credential_type": "personal_token", "owner_id": "e-103", "created_at": t("2023-01-01T00:00:00"), "expires_at": t("2025-03-01T00:00:00")},
    ],
    # a contact directory for the forged accounts but one (c-1029 has no entry: it must stay listed)
    "customers": [{"account_id": a, "name": f"Customer {a}", "email": f"{a}@mail.example", "phone": "+82-10-0000-0000"}
                  for a in FORGED_ACCOUNTS[:-1]],
    "catalog": [
        {"route": "/api/v1/me/profile", "fields": "name;email"},
        {"route": "/api/v1/me/addresses", "fields": "name;phone;address"},
        {"route": "/api/v1/products", "fields": ""},
        {"route": "/admin/export", "fields": "name;email;phone", "bulk": True},
    ],
}


def build_lake(workspace) -> None:
    seq = 1
    for dataset, rows in REFERENCE.items():
        _write(workspace, dataset, rows, seq)
        seq += 1
    for day, rows in sorted(access_rows().items()):
        _write(workspace, "access", rows, seq, part=f"date={day}")
        seq += 1


FINDINGS = [
    {"finding_id": "f-unissued", "rule_id": "token.unissued", "severity": "critical", "attack": ["T1606"],
     "title": "Tokens signed with kid k-2019 that the authorization server never issued",
     "first_seen": "2025-04-14T03:00:00Z", "last_seen": "2025-04-16T03:29:20Z", "detected_at": "2025-04-16T12:49:00Z",
     "entities": {"kid": ["k-2019"], "src_ip": ["203.0.113.7"], "credential_id": [], "actor_id": [], "employee_id": ["e-101"]},
     "evidence": {"requests": 60, "accounts": 30}, "incident_id": "i-forgery"},
    {"finding_id": "f-spread", "rule_id": "behaviour.source_many_accounts", "severity": "high", "attack": ["T1078"],
     "title": "One source address read 30 customer accounts", "first_seen": "2025-04-14T03:00:00Z",
     "last_seen": "2025-04-16T03:29:20Z", "detected_at": "2025-04-16T12:49:00Z",
     "entities": {"kid": [], "src_ip": ["203.0.113.7"], "credential_id": [], "actor_id": [], "employee_id": []},
     "evidence": {"requests": 60, "accounts": 30}, "incident_id": "i-forgery"},
    {"finding_id": "f-departed", "rule_id": "credential.after_termination", "severity": "high", "attack": ["T1078"],
     "title": "API key ak-1 used after its owner e-103 left", "first_seen": "2025-04-15T22:10:00Z",
     "last_seen": "2025-04-15T22:10:00Z", "detected_at": "2025-04-16T12:49:00Z",
     "entities": {"kid": [], "src_ip": ["192.0.2.44"], "credential_id": ["ak-1"], "actor_id": ["e-103"], "employee_id": ["e-103"]},
     "evidence": {"requests": 1, "records": 100}, "incident_id": "i-departed"},
]

INCIDENTS = [
    {"incident_id": "i-forgery", "title": "Forged customer tokens signed with k-2019 (custodian left 2024-12-20)",
     "severity": "critical", "first_seen": "2025-04-14T03:00:00Z", "last_seen": "2025-04-16T03:29:20Z",
     "finding_ids": ["f-unissued", "f-spread"],
     "entities": {"kid": ["k-2019"], "src_ip": ["203.0.113.7"], "credential_id": [], "actor_id": [], "employee_id": ["e-101"]}},
    {"incident_id": "i-departed", "title": "Departed employee e-103's API key pulled a bulk export",
     "severity": "high", "first_seen": "2025-04-15T22:10:00Z", "last_seen": "2025-04-15T22:10:00Z",
     "finding_ids": ["f-departed"],
     "entities": {"kid": [], "src_ip": ["192.0.2.44"], "credential_id": ["ak-1"], "actor_id": ["e-103"], "employee_id": ["e-103"]}},
]

#: what detect.evidence would select for each incident, as a scope selector over the same rows
INCIDENT_SELECTORS = {"i-forgery": ("kid", "k-2019"), "i-departed": ("credential", "ak-1")}
