"""What the console adds on top of the libraries it shows, side by side in one run.

Simulates a platform, ingests it into a fresh workspace, then for the key-forgery scenario's
signing key measures, alternately and several times each:

- ``library``: ``custodes.respond.scope.scope`` + the first 500 rows of ``accounts_table``,
  called directly (what the page needs);
- ``page cold``: ``GET /scope?kind=kid&value=K`` as an analyst, with the scope cache emptied;
- ``page warm``: the same page again within the cache's lifetime;
- ``posture``: ``GET /posture``; ``login``: one scrypt-checked sign-in.

    python bench/bench_console.py [--customers 20000] [--days 30] [--repeat 5]

Prints one JSON object; the ratios are what to compare across machines.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    from starlette.testclient import TestClient

    from custodes import lake
    from custodes.console.app import create_app
    from custodes.console.users import UserStore
    from custodes.engine import connect
    from custodes.respond.scope import Selector, accounts_table, scope
    from custodes.simulate import simulate
    from custodes.workspace import Workspace

    root = Path(tempfile.mkdtemp(prefix="bench-console-"))
    sim = root / "world"
    t0 = time.perf_counter()
    simulate(sim, customers=args.customers, days=args.days, seed=5)
    ws = Workspace.open(root / "ws")
    for dataset in ("access", "issuance"):
        lake.ingest(ws, dataset, [sim / dataset])
    for dataset in ("workforce", "credentials", "keys", "key_custody", "catalog"):
        try:
            lake.ingest(ws, dataset, [sim / f"{dataset}.csv"])
        except Exception as exc:  # noqa: BLE001 - a reference file the lake refuses only loses fields
            print(f"note: {dataset} not ingested: {type(exc).__name__}: {exc}", file=sys.stderr)
    setup_s = time.perf_counter() - t0
    truth = json.loads((sim / "ground_truth.json").read_text())
    kid = next(s for s in truth["scenarios"] if s["name"] == "key_forgery")["indicators"]["kid"][0]
    with connect(ws) as engine:
        rows = engine.to_arrow(engine.table("access").count().as_table()).column(0)[0].as_py()

    password = UserStore.of(ws).add_generated("bench", "analyst")
    app = create_app(ws, allowed_hosts=["testserver"])
    sources = app.state.console.sources

    def library():
        with connect(ws) as engine:
            result = scope(engine, ws, Selector("kid", kid))
            accounts_table(engine, result).slice(0, 500).to_pylist()

    timings: dict[str, list[float]] = {"library": [], "page_cold": [], "page_warm": [], "posture": [], "login": []}
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as client:
        for _ in range(args.repeat):
            client.cookies.clear()
            page = client.get("/login").text
            token = re.search(r'name="login_token" value="([^"]+)"', page).group(1)
            t = time.perf_counter()
            r = client.post("/login", data={"username": "bench", "password": password, "login_token": token})
            timings["login"].append(time.perf_counter() - t)
            assert r.status_code == 303
            t = time.perf_counter()
            library()
            timings["library"].append(time.perf_counter() - t)
            sources._scope_cache.clear()
            t = time.perf_counter()
            r = client.get(f"/scope?kind=kid&value={kid}")
            timings["page_cold"].append(time.perf_counter() - t)
            assert r.status_code == 200 and 'id="blast-accounts"' in r.text, r.text[-2000:]
            t = time.perf_counter()
            client.get(f"/scope?kind=kid&value={kid}")
            timings["page_warm"].append(time.perf_counter() - t)
            t = time.perf_counter()
            assert client.get("/posture").status_code == 200
            timings["posture"].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in timings.items()}
    print(json.dumps({
        "access_rows": rows, "customers": args.customers, "days": args.days, "setup_s": round(setup_s, 1),
        "median_s": {k: round(v, 4) for k, v in med.items()},
        "page_cold_over_library": round(med["page_cold"] / med["library"], 2),
        "page_warm_over_library": round(med["page_warm"] / med["library"], 3),
    }, indent=2))


if __name__ == "__main__":
    main()
