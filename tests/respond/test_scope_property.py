"""Scope against a plain-Python reference on random access tables: accounts (with the
customer-actor default), records (bulk counted), requests, per-item account counts, daily."""

from __future__ import annotations

import collections

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custodes.engine import connect
from custodes.errors import CustodesError
from custodes.respond import Selector, scope

from .conftest import CATALOG, T, req, with_keys

ROUTES = [c["route"] for c in CATALOG]
ITEMS = {c["route"]: [i for i in c["fields"].split(";") if i] for c in CATALOG}

row = st.fixed_dictionaries({
    "day": st.integers(10, 13), "hour": st.integers(0, 23),
    "route": st.sampled_from(ROUTES),
    "actor_type": st.sampled_from(["customer", "employee", "service", "anonymous"]),
    "actor": st.sampled_from(["a1", "a2", "a3", None]),
    "account": st.sampled_from(["a1", "a4", "a5", None]),
    "kid": st.sampled_from(["k1", "k2", None]),
    "records": st.sampled_from([None, 1, 3, 250]),
})


def reference(rows, kid):
    chosen = [r for r in rows if r["kid"] == kid]
    if not chosen:
        return None
    acct = lambda r: r["account"] or (r["actor"] if r["actor_type"] == "customer" else None)  # noqa: E731
    records = sum(r["records"] if r["records"] is not None else (1 if acct(r) else 0) for r in chosen)
    per_item = collections.defaultdict(set)
    daily = collections.defaultdict(lambda: [0, set()])
    for r in chosen:
        a = acct(r)
        for item in ITEMS[r["route"]]:
            if a:
                per_item[item].add(a)
        day = f"2025-04-{r['day']:02d}"
        daily[day][0] += 1
        if a:
            daily[day][1].add(a)
    return {
        "accounts": len({acct(r) for r in chosen if acct(r)}), "records": records, "requests": len(chosen),
        "fields": {k: len(v) for k, v in per_item.items() if v},
        "daily": [{"date": d, "requests": n, "accounts": len(s)} for d, (n, s) in sorted(daily.items())],
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row, min_size=1, max_size=40), kid=st.sampled_from(["k1", "k2"]))
def test_scope_matches_reference(workspace, rows, kid):
    access = [req(T(r["day"], r["hour"]), r["route"], actor_type=r["actor_type"], actor_id=r["actor"],
                  account_id=r["account"], token_kid=r["kid"], record_count=r["records"]) for r in rows]
    with connect(workspace, "duckdb") as engine:
        engine.register("access", with_keys("access", access))
        engine.register("catalog", with_keys("catalog", CATALOG))
        expected = reference(rows, kid)
        if expected is None:
            try:
                scope(engine, workspace, Selector("kid", kid))
            except CustodesError:
                return
            raise AssertionError("an empty scope must be an error")
        got = scope(engine, workspace, Selector("kid", kid)).to_json()
    assert {k: got[k] for k in expected} == expected
