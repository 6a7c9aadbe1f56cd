"""A small hand-made world for rule tests: every scenario and look-alike in a few thousand rows.

Ten days from 2025-04-01. Customers log in daily from their home address and device; a
carrier-grade NAT address carries many of them; five back-office staff read a few customers a
day. On the last days: a forgery with an old key from a foreign network, a departed
developer's API key pulling a bulk route, a curious insider, and small misdeeds each rule
must see. Numbers are chosen so each rule has a positive and a negative example.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from custodes import contract
from custodes.ids import KEYED_COLUMNS, key_of

UTC = dt.timezone.utc
T0 = dt.datetime(2025, 4, 1, tzinfo=UTC)
DAYS = 10
CUSTOMERS = 300
FORGERY_DAY = 8


def t(day: int, hour: float = 0.0) -> dt.datetime:
    return T0 + dt.timedelta(days=day, hours=hour)


def table(dataset: str, rows: list[dict]) -> pa.Table:
    """Rows -> a lake-shaped Arrow table: contract columns, ``<col>_key`` columns, ``_seq``."""
    cols = {c.name: [r.get(c.name) for r in rows] for c in contract.columns(dataset)}
    arrays = {name: pa.array(values, contract.schema(dataset).field(name).type) for name, values in cols.items()}
    for name in KEYED_COLUMNS.get(dataset, ()):
        arrays[f"{name}_key"] = pa.array([key_of(v) for v in cols[name]], pa.int64())
    arrays["_seq"] = pa.array([r.get("_seq", 1) for r in rows], pa.int64())
    return pa.table(arrays)


def _customer(i: int) -> dict:
    cgnat = i < 120  # behind one carrier NAT address
    return {"id": f"c{i:04d}", "ip": "100.64.0.1" if cgnat else f"211.45.{i // 200}.{i % 200 + 1}",
            "asn": 4766, "country": "KR", "device": f"dev-{i:04d}"}


def build() -> dict[str, pa.Table]:
    access, issuance = [], []
    customers = [_customer(i) for i in range(CUSTOMERS)]
    for day in range(DAYS):
        for i, c in enumerate(customers):
            jti = f"jti-{day}-{c['id']}"
            iat = t(day, 1 + (i % 12))
            sid = f"sid-{c['id']}"
            if not (day == 6 and i in (5, 6, 7)):  # three lost ledger rows: a ledger gap
                issuance.append({"time": iat, "token_id": jti, "kid": "k-old", "subject": c["id"],
                                 "actor_type": "customer", "session_id": sid if day > 0 else sid,
                                 "grant": "password", "iat": iat, "exp": iat + dt.timedelta(hours=24),
                                 "src_ip": c["ip"], "device_id": c["device"], "_seq": day + 1})
            for n in range(3):
                access.append({"time": iat + dt.timedelta(minutes=10 * n), "src_ip": c["ip"],
                               "device_id": c["device"], "geo_country": c["country"], "asn": c["asn"],
                               "method": "GET", "route": "/api/v1/me/profile", "status": 200,
                               "actor_type": "customer", "actor_id": c["id"], "account_id": c["id"],
                               "credential_type": "access_token", "credential_id": jti,
                               "token_kid": "k-old", "token_iat": iat,
                               "token_exp": iat + dt.timedelta(hours=24), "session_id": sid,
                               "user_agent": "App/5.1", "_seq": day + 1})
        # back office: five staff read 8 customers each, in working hours
        for e in range(5):
            for n in range(8):
                c = customers[(day * 40 + e * 8 + n) % CUSTOMERS]
                access.append(_staff_read(f"e{e}", c["id"], t(day, 2 + n * 0.5), day + 1))
        # a batch service reads 150 accounts a day, every hour (a steady sender)
        for h in range(24):
            for n in range(8):
                c = customers[(h * 8 + n) % CUSTOMERS]
                access.append({"time": t(day, h + n / 10), "src_ip": "10.0.0.5", "method": "GET",
                               "route": "/internal/notify", "status": 200, "actor_type": "service",
                               "actor_id": "svc-notify", "account_id": c["id"], "credential_type": "mtls",
                               "credential_id": "mtls-notify", "asn": 64512, "_seq": day + 1})
    _forgery(access, customers)
    _insider(access, customers)
    _departed_key(access)
    _misdeeds(access, issuance, customers)
    return {
        "access": table("access", access),
        "issuance": table("issuance", issuance),
        "workforce": table("workforce", _workforce()),
        "credentials": table("credentials", _credentials()),
        "keys": table("keys", [
            {"kid": "k-old", "alg": "ES256", "purpose": "customer_access_token", "storage": "file",
             "created_at": dt.datetime(2019, 1, 1, tzinfo=UTC)},
            {"kid": "k-gone", "alg": "ES256", "purpose": "partner_token", "storage": "kms",
             "created_at": dt.datetime(2024, 1, 1, tzinfo=UTC), "retired_at": t(2)},
            {"kid": "k-svc", "alg": "ES256", "purpose": "service_token", "storage": "hsm",
             "created_at": dt.datetime(2025, 1, 1, tzinfo=UTC)},
        ]),
        "key_custody": table("key_custody", [
            {"kid": "k-old", "employee_id": "e-dev", "granted_at": dt.datetime(2019, 1, 1, tzinfo=UTC)},
            {"kid": "k-svc", "employee_id": "e-ops", "granted_at": dt.datetime(2025, 1, 1, tzinfo=UTC)},
        ]),
        "catalog": table("catalog", [
            {"route": "/api/v1/me/profile", "fields": "name;email", "bulk": False},
            {"route": "/admin/customers/{id}", "fields": "name;email;phone;address", "bulk": False},
            {"route": "/admin/export", "fields": "name;email;phone", "bulk": True},
            {"route": "/internal/notify", "fields": "email", "bulk": False},
        ]),
    }


def _staff_read(employee: str, account: str, when: dt.datetime, seq: int) -> dict:
    return {"time": when, "src_ip": "175.1.1.1", "asn": 3786, "geo_country": "KR", "method": "GET",
            "route": "/admin/customers/{id}", "status": 200, "actor_type": "employee",
            "actor_id": employee, "account_id": account, "credential_type": "session",
            "credential_id": f"sess-{employee}", "_seq": seq}


def _forgery(access, customers):
    """Day 8-9: 200 accounts (c0100-c0299) read with tokens nobody issued, signed by k-old, from AS14061."""
    for day in (FORGERY_DAY, FORGERY_DAY + 1):
        for n in range(100):
            c = customers[(day - FORGERY_DAY) * 100 + n + 100]
            when = t(day, 13 + n / 60)
            access.append({"time": when, "src_ip": f"198.51.100.{n % 7 + 1}", "device_id": None,
                           "geo_country": "US", "asn": 14061, "method": "GET",
                           "route": "/api/v1/me/profile", "status": 200, "actor_type": "customer",
                           "actor_id": c["id"], "account_id": c["id"], "credential_type": "access_token",
                           "credential_id": f"forged-{day}-{n}", "token_kid": "k-old", "token_iat": when,
                           "token_exp": when + dt.timedelta(hours=1), "session_id": None,
                           "user_agent": "App/5.1", "_seq": day + 1})


def _insider(access, customers):
    """Day 9: e4 reads 150 customers, 60 of them at night."""
    for n in range(150):
        hour = 2 + n * 0.04 if n < 90 else 20 + (n - 90) * 0.05
        access.append(_staff_read("e4", customers[(n * 7) % CUSTOMERS]["id"], t(9, hour), 10))


def _departed_key(access):
    """e-data left on day 3; their API key pulls the bulk export on day 8 (5,000 records)."""
    for n in range(10):
        access.append({"time": t(8, 3 + n * 0.1), "src_ip": "45.77.1.1", "asn": 20473, "geo_country": "NL",
                       "method": "GET", "route": "/admin/export", "status": 200, "actor_type": "service",
                       "actor_id": "ak-data", "record_count": 500, "credential_type": "api_key",
                       "credential_id": "ak-data", "_seq": 9})


def _misdeeds(access, issuance, customers):
    c = customers[200]
    base = {"src_ip": c["ip"], "device_id": c["device"], "asn": 4766, "geo_country": "KR", "method": "GET",
            "route": "/api/v1/me/profile", "status": 200, "actor_type": "customer", "actor_id": c["id"],
            "account_id": c["id"], "credential_type": "access_token", "token_kid": "k-old", "_seq": 6}
    # a token used two hours after its exp; and one used 90 s after (clock skew: quiet)
    iat = t(5, 1)
    issuance.append({"time": iat, "token_id": "jti-exp", "kid": "k-old", "subject": c["id"], "actor_type": "customer",
                     "iat": iat, "exp": iat + dt.timedelta(hours=1), "_seq": 6})
    access.append(dict(base, time=iat + dt.timedelta(hours=3), credential_id="jti-exp", token_iat=iat,
                       token_exp=iat + dt.timedelta(hours=1)))
    issuance.append({"time": iat, "token_id": "jti-skew", "kid": "k-old", "subject": c["id"], "actor_type": "customer",
                     "iat": iat, "exp": iat + dt.timedelta(hours=1), "_seq": 6})
    access.append(dict(base, time=iat + dt.timedelta(hours=1, seconds=90), credential_id="jti-skew",
                       token_iat=iat, token_exp=iat + dt.timedelta(hours=1)))
    # an issued jti presented with another subject
    issuance.append({"time": iat, "token_id": "jti-swap", "kid": "k-old", "subject": customers[201]["id"],
                     "actor_type": "customer", "iat": iat, "exp": iat + dt.timedelta(hours=24), "_seq": 6})
    access.append(dict(base, time=iat + dt.timedelta(minutes=5), credential_id="jti-swap", token_iat=iat,
                       token_exp=iat + dt.timedelta(hours=24)))
    # a token signed by k-gone (retired on day 2) accepted on day 5; one refused (401): quiet
    issuance.append({"time": t(5, 2), "token_id": "jti-gone", "kid": "k-gone", "subject": c["id"],
                     "actor_type": "customer", "iat": t(5, 2), "exp": t(5, 3), "_seq": 6})
    access.append(dict(base, time=t(5, 2.1), credential_id="jti-gone", token_kid="k-gone", token_iat=t(5, 2),
                       token_exp=t(5, 3)))
    access.append(dict(base, time=t(5, 2.2), credential_id="jti-gone2", token_kid="k-gone", status=401))
    # a revoked partner key still accepted; a leaver's properly revoked key only refused
    for when, cred, status in ((t(6, 4), "ak-partner", 200), (t(6, 5), "ak-leaver", 401)):
        access.append({"time": when, "src_ip": "52.1.1.1", "asn": 16509, "method": "GET", "route": "/admin/export",
                       "status": status, "actor_type": "service", "actor_id": cred, "record_count": 10,
                       "credential_type": "api_key", "credential_id": cred, "_seq": 7})


def _workforce():
    return [
        *({"employee_id": f"e{e}", "department": "cs", "hired_at": dt.datetime(2022, 1, 1, tzinfo=UTC)}
          for e in range(5)),
        {"employee_id": "e-dev", "department": "eng", "hired_at": dt.datetime(2018, 1, 1, tzinfo=UTC),
         "terminated_at": t(3)},
        {"employee_id": "e-data", "department": "data", "hired_at": dt.datetime(2018, 1, 1, tzinfo=UTC),
         "terminated_at": t(3, 12)},
        {"employee_id": "e-ops", "department": "eng", "hired_at": dt.datetime(2018, 1, 1, tzinfo=UTC),
         "terminated_at": t(400)},  # a future-dated leaver: not gone yet
        {"employee_id": "e-left", "department": "cs", "hired_at": dt.datetime(2018, 1, 1, tzinfo=UTC),
         "terminated_at": t(1)},
    ]


def _credentials():
    return [
        {"credential_id": "ak-data", "credential_type": "api_key", "owner_id": "e-data",
         "created_at": dt.datetime(2023, 1, 1, tzinfo=UTC)},
        {"credential_id": "ak-ops", "credential_type": "api_key", "owner_id": "e-ops",
         "created_at": dt.datetime(2023, 1, 1, tzinfo=UTC)},
        {"credential_id": "ak-leaver", "credential_type": "api_key", "owner_id": "e-left",
         "created_at": dt.datetime(2023, 1, 1, tzinfo=UTC), "revoked_at": t(1, 1)},
        {"credential_id": "ak-partner", "credential_type": "api_key", "owner_id": "partner-x",
         "created_at": dt.datetime(2023, 1, 1, tzinfo=UTC), "revoked_at": t(4)},
        {"credential_id": "mtls-notify", "credential_type": "service_account", "owner_id": "svc-notify",
         "created_at": dt.datetime(2023, 1, 1, tzinfo=UTC)},
    ]
