"""Detection within the hour: data arrives in hour slices, a run follows each slice.

A partial day's evidence is a finding at once; the same day's later data updates that finding
(same id, growing evidence, severity never falling); nothing is reported that the complete day
does not confirm; and the last run ends where one --full run over the same data ends. Tested
with the issuance slice arriving with its access slice, and an hour after it (a token whose
issuance row has not arrived yet must not look forged)."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from custodes.detect import store as detect_store
from custodes.detect.rule import SEVERITY_RANK
from custodes.detect.run import detect
from custodes.workspace import Workspace

from . import lakefiles, world

REFERENCE = ("workforce", "credentials", "keys", "key_custody", "catalog")
RUN_TIMES = ("detected_at", "severity_history")
FORGERY = world.t(world.FORGERY_DAY, 13)  # its first forged request
NEW_PHONES = [f"c{i:04d}" for i in range(10, 16)]
REPLAY = world.t(world.FORGERY_DAY, 11 + 10 / 60)


def _busy_world(world_tables) -> dict[str, pa.Table]:
    """The hand-made world, plus what hour slices make matter:

    - the authorization server mints a service token every five minutes, day and night (a
      real ledger never falls silent for long; a silent one is tested apart);
    - on the forgery's day, six customers log in from new phones at new addresses at 10:20
      to 10:45: issued properly, tied to nothing known yet. Arriving before their issuance
      rows, their requests look exactly like forged tokens;
    - the same morning, agent e1 gets through 25 customers by 02:40, while the others have
      read two or three: judged against the morning so far, that is ten times a peer; against
      a peer's whole day (8), it is three times, under the bar of five;
    - at 11:10 a jti issued at 11:00 to c0220 is replayed in a token made out to c0221."""
    issuance, access = [], []
    for n in range(world.DAYS * 24 * 12):
        when = world.t(0) + dt.timedelta(minutes=5 * n)
        issuance.append({"time": when, "token_id": f"svc-clock-{n}", "kid": "k-svc", "subject": "svc-clock",
                         "actor_type": "service", "grant": "client_credentials", "iat": when,
                         "exp": when + dt.timedelta(minutes=10), "_seq": 1})
    for n, customer in enumerate(NEW_PHONES):
        when = world.t(world.FORGERY_DAY, 10 + (20 + 5 * n) / 60)
        jti = f"jti-new-phone-{customer}"
        issuance.append({"time": when, "token_id": jti, "kid": "k-old", "subject": customer,
                         "actor_type": "customer", "session_id": f"sid-new-{customer}", "grant": "password",
                         "iat": when, "exp": when + dt.timedelta(hours=24), "src_ip": f"203.0.113.{n + 20}",
                         "device_id": f"phone-{customer}", "_seq": 9})
        for k in range(3):
            access.append({"time": when + dt.timedelta(minutes=k + 1), "src_ip": f"203.0.113.{n + 20}",
                           "device_id": f"phone-{customer}", "geo_country": "KR", "asn": 4766, "method": "GET",
                           "route": "/api/v1/me/profile", "status": 200, "actor_type": "customer",
                           "actor_id": customer, "account_id": customer, "credential_type": "access_token",
                           "credential_id": jti, "token_kid": "k-old", "token_iat": when,
                           "token_exp": when + dt.timedelta(hours=24), "session_id": f"sid-new-{customer}",
                           "_seq": 9})
    for n in range(25):
        access.append(world._staff_read("e1", f"c{200 + n:04d}", world.t(world.FORGERY_DAY, 2 + n / 40), 9))
    # 11:00, c0220 logs in; at 11:10 its jti is replayed in a token re-signed for c0221
    issued = world.t(world.FORGERY_DAY, 11)
    issuance.append({"time": issued, "token_id": "jti-replayed", "kid": "k-old", "subject": "c0220",
                     "actor_type": "customer", "session_id": "sid-c0220", "grant": "password", "iat": issued,
                     "exp": issued + dt.timedelta(hours=1), "_seq": 9})
    access.append({"time": REPLAY, "src_ip": "198.51.100.99", "geo_country": "US", "asn": 14061,
                   "method": "GET", "route": "/api/v1/me/profile", "status": 200, "actor_type": "customer",
                   "actor_id": "c0221", "account_id": "c0221", "credential_type": "access_token",
                   "credential_id": "jti-replayed", "token_kid": "k-old", "token_iat": issued,
                   "token_exp": issued + dt.timedelta(hours=1), "_seq": 9})
    tables = dict(world_tables)
    tables["issuance"] = pa.concat_tables([tables["issuance"], world.table("issuance", issuance)])
    tables["access"] = pa.concat_tables([tables["access"], world.table("access", access)])
    return tables


#: Slice boundaries: the first eight days at once (the first run), then hour by hour around the
#: departed key's pull (day 8, 03:00), the new phones (10:20) and the forgery (13:00 to 14:40),
#: and the insider's day (day 9) in pieces that cut it before and after its night reads.
CUTS = ([world.t(0), world.t(8)] + [world.t(8, h) for h in (3, 4, 9, 10, 11, 12, 13, 14, 15, 16)]
        + [world.t(9, h) for h in (4, 13, 14, 21)] + [world.t(10)])


def _slice(table, start, end):
    return table.filter(pc.and_(pc.greater_equal(table["time"], start), pc.less(table["time"], end)))


def _feed(ws, tables, issuance_late: bool) -> list[list[dict]]:
    """Reference data, then one run after each slice; with ``issuance_late`` each slice's
    issuance rows come with the next slice's access. Returns the findings after each run.

    Some slices span many hours, so the ledger may lag the access log by up to nine: the
    workspace says so (a ledger lagging longer than allowed is judged anyway, tested apart)."""
    ws.config_path.write_text("detect:\n  issuance_max_lag_minutes: 720\n")
    seq = 0
    for name in REFERENCE:
        seq += 1
        lakefiles.store(ws, name, tables[name], seq)
    slices = list(zip(CUTS, CUTS[1:]))
    steps = []
    for k in range(len(slices) + (1 if issuance_late else 0)):
        parts = []
        if k < len(slices):
            parts.append(("access", slices[k]))
        issued = k - 1 if issuance_late else k
        if 0 <= issued < len(slices):
            parts.append(("issuance", slices[issued]))
        for name, (start, end) in parts:
            batch = _slice(tables[name], start, end)
            if batch.num_rows:
                seq += 1
                lakefiles.store(ws, name, batch, seq)
        detect(ws)
        steps.append(detect_store.load_findings(ws))
    return steps


def _comparable(items):
    return sorted(({k: v for k, v in f.items() if k not in RUN_TIMES} for f in items),
                  key=lambda f: json.dumps(f, sort_keys=True))


@pytest.fixture(scope="module")
def busy(world_tables):
    return _busy_world(world_tables)


@pytest.fixture(scope="module", params=["together", "issuance_late"])
def hourly(request, busy, tmp_path_factory):
    late = request.param == "issuance_late"
    ws = Workspace.open(tmp_path_factory.mktemp(request.param) / "ws")
    steps = _feed(ws, busy, late)
    full = Workspace.open(tmp_path_factory.mktemp(f"{request.param}-full") / "ws")
    seq = 0
    for name, table in busy.items():
        seq += 1
        lakefiles.store(full, name, table, seq)
    detect(full, full=True)
    return request.param, ws, steps, detect_store.load_findings(full), detect_store.load_incidents(full)


def test_hour_slices_end_where_one_full_run_ends(hourly):
    _, ws, steps, full_findings, full_incidents = hourly
    assert _comparable(steps[-1]) == _comparable(full_findings)
    assert _comparable(detect_store.load_incidents(ws)) == _comparable(full_incidents)


def test_a_finding_only_grows_and_nothing_is_reported_that_the_whole_day_does_not_confirm(hourly):
    """No duplicates, no severity falling, no finding a later run withdraws: the benign new
    phones never show up as forged tokens, whichever slice their issuance rows come in."""
    _, _, steps, full_findings, _ = hourly
    final = {f["finding_id"]: f for f in full_findings}
    before: dict[str, dict] = {}
    for findings in steps:
        ids = [f["finding_id"] for f in findings]
        assert len(ids) == len(set(ids))
        for f in findings:
            assert f["finding_id"] in final, f["title"]
            end = final[f["finding_id"]]
            assert SEVERITY_RANK[f["severity"]] <= SEVERITY_RANK[end["severity"]], f["title"]
            old = before.get(f["finding_id"])
            if old is not None:
                assert SEVERITY_RANK[f["severity"]] >= SEVERITY_RANK[old["severity"]], f["title"]
                for key, value in old["evidence"].items():
                    if isinstance(value, int) and key not in ("baseline", "established"):
                        assert f["evidence"][key] >= value, (f["title"], key)
                assert f["detected_at"] == old["detected_at"]
        before.update({f["finding_id"]: f for f in findings})
    assert not [f for f in full_findings if set(NEW_PHONES) & set(f["entities"]["actor_id"])]
    assert not [f for f in full_findings if "e1" in f["entities"]["actor_id"]]


def _first_at(steps, rule_id, window, severities=("high", "critical")):
    """The detected_at of the first run that reported the rule's finding for the window at one
    of ``severities``, and at which severity."""
    for findings in steps:
        for f in findings:
            if f["rule_id"] == rule_id and f["window"] == window and f["severity"] in severities:
                return f["detected_at"], f["severity"]
    return None, None


def test_the_forgery_is_raised_within_the_hour_and_at_critical_the_hour_after(hourly):
    order, _, steps, _, _ = hourly
    at, severity = _first_at(steps, "token.unissued", "2025-04-09")
    first = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
    if order == "together":
        assert first - FORGERY < dt.timedelta(hours=1)
    else:  # its issuance slice, which clears the forged tokens of being merely late, comes an hour later
        assert first - FORGERY < dt.timedelta(hours=2)
    critical, _ = _first_at(steps, "token.unissued", "2025-04-09", ("critical",))
    assert critical is not None and critical < "2025-04-09T16:00:00Z"
    # the finding records its rise: high, then critical
    last = next(f for f in steps[-1] if f["rule_id"] == "token.unissued" and f["window"] == "2025-04-09")
    assert [e["severity"] for e in last["severity_history"]][-1] == "critical"
    assert last["severity_history"][0]["detected_at"] == last["detected_at"] == at


def test_a_replayed_jti_is_raised_once_its_issuance_row_is_in(hourly):
    order, _, steps, _, _ = hourly
    at, severity = _first_at(steps, "token.claims_mismatch", "2025-04-09")
    delay = dt.datetime.fromisoformat(at.replace("Z", "+00:00")) - REPLAY
    assert delay < dt.timedelta(hours=1 if order == "together" else 2)


def test_the_departed_key_is_raised_in_the_hour_of_its_first_pull(hourly):
    _, _, steps, _, _ = hourly
    at, severity = _first_at(steps, "credential.after_termination", "2025-04-09")
    assert severity == "critical" and at < "2025-04-09T04:00:00Z"  # first pull at 03:00


def test_the_insider_is_raised_on_the_day_not_after_it(hourly):
    _, _, steps, _, _ = hourly
    at, severity = _first_at(steps, "employee.many_customers", "2025-04-10")
    # 90 reads in the morning (over five times a peer's day), the night reads from 20:00
    assert at < "2025-04-10T13:00:00Z"
    at_high, _ = _first_at(steps, "employee.many_customers", "2025-04-10", ("high",))
    assert at_high < "2025-04-11T00:00:00Z"


def test_incidents_carry_when_they_rose(hourly):
    _, ws, _, _, _ = hourly
    forgery = next(i for i in detect_store.load_incidents(ws) if "token.unissued" in i["rule_ids"])
    history = forgery["severity_history"]
    assert [e["severity"] for e in history] == sorted((e["severity"] for e in history), key=SEVERITY_RANK.get)
    assert history[-1]["severity"] == "critical" and history[-1]["rule_id"] == "token.unissued"
    times = [e["detected_at"] for e in history]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert forgery["detected_at"] == times[0]


def _stored(tmp_path, busy, issuance_until, access_until, extra_access=()) -> Workspace:
    ws = Workspace.open(tmp_path / "ws")
    seq = 0
    for name in REFERENCE:
        seq += 1
        lakefiles.store(ws, name, busy[name], seq)
    lakefiles.store(ws, "issuance", _slice(busy["issuance"], world.t(0), issuance_until), seq + 1)
    access = _slice(busy["access"], world.t(0), access_until)
    if extra_access:
        access = pa.concat_tables([access, world.table("access", list(extra_access))])
    lakefiles.store(ws, "access", access, seq + 2)
    return ws


def test_a_stalled_ledger_does_not_blind_the_provenance_rules(busy, tmp_path):
    """The issuance feed stops at 10:00 on the forgery's day; access keeps coming until 16:00.
    A ledger more than the allowed two hours behind is not late: every request is judged with
    what it holds. The forgery is found (with the new phones and the replayed jti beside it,
    whose issuance rows never came: the ledger gap says why), not deferred for ever."""
    ws = _stored(tmp_path, busy, world.t(8, 10), world.t(8, 16))
    detect(ws)
    found = [f for f in detect_store.load_findings(ws) if f["rule_id"] == "token.unissued"]
    assert [(f["window"], f["severity"]) for f in found] == [("2025-04-09", "critical")]
    assert found[0]["evidence"]["tokens"] == 100 + 6 + 1


def test_a_request_stamped_far_ahead_of_the_ledger_does_not_wait_for_it(busy, tmp_path):
    """Whoever writes the access log's time stamps one forged request six hours ahead of
    everything else: it becomes the data time now, but it is not left waiting for issuance
    rows that would have to be dated hours after the ledger's end."""
    when = world.t(8, 18)
    forged = {"time": when, "src_ip": "198.51.100.7", "geo_country": "US", "asn": 14061, "method": "GET",
              "route": "/api/v1/me/profile", "status": 200, "actor_type": "customer", "actor_id": "c0001",
              "account_id": "c0001", "credential_type": "access_token", "credential_id": "forged-ahead",
              "token_kid": "k-old", "token_iat": when, "token_exp": when + dt.timedelta(hours=1), "_seq": 9}
    ws = _stored(tmp_path, busy, world.t(8, 12), world.t(8, 12), [forged])
    detect(ws)
    found = [f for f in detect_store.load_findings(ws) if f["rule_id"] == "token.unissued"]
    assert [(f["window"], f["severity"], f["evidence"]["tokens"]) for f in found] == [("2025-04-09", "high", 1)]
