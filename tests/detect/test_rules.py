"""Each rule on the hand-made world: it names what it must (positive) and stays quiet on the
look-alike beside it (negative)."""

from __future__ import annotations

import pytest

from custodes.detect.registry import all_rules, rule_by_id
from custodes.detect.run import evaluate

from . import world
from .conftest import engine_over

HIGH = ("high", "critical")


def of(findings, rule_id):
    return [f for f in findings if f["rule_id"] == rule_id]


def test_every_finding_has_the_contract_shape(all_findings):
    keys = {"finding_id", "rule_id", "title", "severity", "attack", "first_seen", "last_seen",
            "detected_at", "entities", "evidence", "incident_id"}
    assert all_findings
    for f in all_findings:
        assert keys <= set(f)
        assert set(f["entities"]) >= {"kid", "src_ip", "credential_id", "actor_id", "employee_id"}
        assert f["severity"] in ("info", "low", "medium", "high", "critical")
        assert f["first_seen"] <= f["last_seen"] <= f["detected_at"]
        assert f["detected_at"] == "2025-04-10T23:00:00Z" or f["detected_at"] > "2025-04-10"


def test_unissued_tokens_are_critical_and_name_the_key_and_sources(all_findings):
    found = of(all_findings, "token.unissued")
    assert [f["window"] for f in sorted(found, key=lambda f: f["window"])] == ["2025-04-09", "2025-04-10"]
    for f in found:
        assert f["severity"] == "critical"
        assert f["entities"]["kid"] == ["k-old"]
        assert set(f["entities"]["src_ip"]) == {f"198.51.100.{n}" for n in range(1, 8)}
        assert f["evidence"]["tokens"] == 100 and f["evidence"]["accounts"] == 100


def test_lost_ledger_rows_are_a_low_gap_finding_not_a_forgery(all_findings):
    gaps = of(all_findings, "issuance.ledger_gap")
    assert len(gaps) == 1 and gaps[0]["window"] == "2025-04-07"
    assert gaps[0]["severity"] in ("info", "low") and gaps[0]["evidence"]["tokens"] == 3
    assert all(f["window"] != "2025-04-07" for f in of(all_findings, "token.unissued"))


def test_claims_mismatch_names_the_swapped_subject_not_clock_skew(all_findings):
    found = of(all_findings, "token.claims_mismatch")
    assert len(found) == 1 and found[0]["evidence"]["tokens"] == 1
    assert found[0]["entities"]["actor_id"] == ["c0200"]


def test_a_replayed_jti_that_lives_longer_than_issued_is_a_claims_mismatch(world_tables):
    """CONTRACT v1.1: the ledger compares exp too. An issued jti re-signed with a later exp
    (a stolen token made to live a day longer) contradicts its issuance; one 90 s off is skew."""
    import datetime as dt

    import pyarrow as pa

    c = world._customer(210)
    iat = world.t(5, 3)
    issued = [{"time": iat, "token_id": jti, "kid": "k-old", "subject": c["id"], "actor_type": "customer",
               "iat": iat, "exp": iat + dt.timedelta(hours=1), "_seq": 6} for jti in ("jti-long", "jti-near")]
    uses = [{"time": iat + dt.timedelta(minutes=30), "src_ip": c["ip"], "asn": 4766, "method": "GET",
             "route": "/api/v1/me/profile", "status": 200, "actor_type": "customer", "actor_id": c["id"],
             "account_id": c["id"], "credential_type": "access_token", "credential_id": jti,
             "token_kid": "k-old", "token_iat": iat, "token_exp": iat + later, "_seq": 6}
            for jti, later in (("jti-long", dt.timedelta(hours=25)), ("jti-near", dt.timedelta(seconds=3690)))]
    tables = dict(world_tables, access=pa.concat_tables([world_tables["access"], world.table("access", uses)]),
                  issuance=pa.concat_tables([world_tables["issuance"], world.table("issuance", issued)]))
    found = evaluate(engine_over(tables), [rule_by_id(all_rules())["token.claims_mismatch"]])
    day6 = [f for f in found if f["window"] == "2025-04-06"]
    assert len(day6) == 1 and day6[0]["evidence"]["tokens"] == 2  # jti-swap (subject) and jti-long
    assert day6[0]["severity"] == "high"


def test_expired_token_is_found_but_ninety_seconds_of_skew_is_not(all_findings):
    found = of(all_findings, "token.expired_use")
    assert len(found) == 1 and found[0]["evidence"]["tokens"] == 1  # jti-exp, not jti-skew


def test_retired_key_counts_accepted_requests_only(all_findings):
    found = of(all_findings, "token.retired_key")
    assert [(f["entities"]["kid"], f["evidence"]["requests"]) for f in found] == [(["k-gone"], 1)]


def test_departed_custodian_key_is_high_and_future_leaver_is_not_gone(all_findings):
    found = of(all_findings, "key.departed_custodian")
    assert [(f["entities"]["kid"], f["entities"]["employee_id"], f["severity"]) for f in found] == [
        (["k-old"], ["e-dev"], "high")]  # e-ops leaves next year: not yet, k-svc is fine


def test_key_posture_flags_the_file_key_only(all_findings):
    found = of(all_findings, "key.posture")
    assert [f["entities"]["kid"] for f in found] == [["k-old"]]
    assert found[0]["severity"] == "medium"


def test_use_after_termination_is_critical_for_a_bulk_pull(all_findings):
    found = of(all_findings, "credential.after_termination")
    assert len(found) == 1
    f = found[0]
    assert f["entities"]["credential_id"] == ["ak-data"] and f["entities"]["employee_id"] == ["e-data"]
    assert f["evidence"]["records"] == 5000 and f["severity"] == "critical"


def test_revoked_credential_accepted_is_found_refusals_are_not(all_findings):
    found = of(all_findings, "credential.after_revocation")
    assert [f["entities"]["credential_id"] for f in found] == [["ak-partner"]]  # not ak-leaver (401)


def test_departed_staff_credentials_still_valid(all_findings):
    found = of(all_findings, "credential.departed_still_valid")
    # ak-data: owner gone, never revoked. ak-leaver: revoked. ak-ops: owner leaves next year.
    assert [f["entities"]["credential_id"] for f in found] == [["ak-data"]]
    assert found[0]["severity"] == "medium"


def test_new_foreign_network_reaching_many_accounts_but_not_the_carrier_nat(all_findings):
    for rule_id in ("source.many_accounts", "account.new_origin"):
        found = of(all_findings, rule_id)
        assert {f["entities"]["asn"][0] for f in found} == {"14061"}, rule_id
        assert all(f["severity"] in HIGH for f in found)
    # new to every account on both days; a jump over the network's baseline on the first only
    assert {f["window"] for f in of(all_findings, "account.new_origin")} == {"2025-04-09", "2025-04-10"}
    assert {f["window"] for f in of(all_findings, "source.many_accounts")} == {"2025-04-09"}


def test_insider_reads_far_more_than_peers_partly_at_night(all_findings):
    found = of(all_findings, "employee.many_customers")
    assert [(f["entities"]["actor_id"], f["window"]) for f in found] == [(["e4"], "2025-04-10")]
    assert found[0]["severity"] == "high" and found[0]["evidence"]["night_accounts"] == 60


def test_bulk_export_above_baseline(all_findings):
    found = of(all_findings, "export.bulk_volume")
    assert [f["entities"]["credential_id"] for f in found] == [["ak-data"]]  # not ak-partner's 10 rows


def test_no_high_finding_on_lookalikes(all_findings):
    """CGNAT, the steady batch service, ledger gap, skew and the leaver's refused key: quiet."""
    for f in all_findings:
        if f["severity"] in HIGH:
            ents = f["entities"]
            assert "100.64.0.1" not in ents["src_ip"]
            assert "svc-notify" not in ents["actor_id"] and "ak-leaver" not in ents["credential_id"]


def test_log_gap_found_when_an_hour_is_missing(world_tables):
    import pyarrow.compute as pc

    access = world_tables["access"]
    hours = pc.hour(access["time"])
    day = pc.day(access["time"])
    holed = access.filter(pc.invert(pc.and_(pc.equal(day, 9), pc.equal(hours, 11))))
    engine = engine_over(dict(world_tables, access=holed))
    rule = rule_by_id(all_rules())["integrity.log_gap"]
    found = evaluate(engine, [rule])
    assert [(f["window"], f["evidence"]["gap_hours"]) for f in found] == [("2025-04-09", 1), ("2025-04-09", 1)]
    assert {tuple(f["entities"]["actor_id"]) for f in found} == {(), ("svc-notify",)}
    assert evaluate(engine_over(world_tables), [rule]) == []


def test_low_and_slow_accumulation_over_days(world_tables):
    """A network taking 40 new accounts a day, under the daily thresholds, for five days."""
    import datetime as dt

    extra = []
    for day in range(5, 10):
        for n in range(40):
            c = world._customer((day - 5) * 40 + n + 100)
            when = world.t(day, 3 + n / 30)
            extra.append({"time": when, "src_ip": "203.0.113.9", "geo_country": "DE", "asn": 24940,
                          "method": "GET", "route": "/api/v1/me/profile", "status": 200,
                          "actor_type": "customer", "actor_id": c["id"], "account_id": c["id"],
                          "credential_type": "access_token", "credential_id": f"slow-{day}-{n}",
                          "token_kid": "k-old", "token_exp": when + dt.timedelta(hours=1)})
    import pyarrow as pa

    access = pa.concat_tables([world_tables["access"], world.table("access", extra)])
    engine = engine_over(dict(world_tables, access=access))
    rules = rule_by_id(all_rules())
    slow = evaluate(engine, [rules["source.low_and_slow"]])
    assert {f["window"] for f in slow} >= {"2025-04-09", "2025-04-10"}
    assert all(f["entities"]["asn"] == ["24940"] or f["entities"]["asn"] == ["14061"] for f in slow)
    assert any(f["entities"]["asn"] == ["24940"] for f in slow)
    daily = evaluate(engine, [rules["source.many_accounts"]])
    assert all(f["entities"]["asn"] != ["24940"] for f in daily)  # 40 a day: under the daily bar


def test_absent_dataset_skips_its_rules_with_a_notice(world_tables):
    notes = []
    engine = engine_over(world_tables, drop=("issuance",))
    found = evaluate(engine, notify=notes.append)
    assert any("token.unissued" in n and "issuance" in n for n in notes)
    assert not of(found, "token.unissued")
    # the behavioural rules still catch the forgery, at high
    assert {f["rule_id"] for f in found if "14061" in f["entities"].get("asn", []) and f["severity"] in HIGH} >= {
        "source.many_accounts", "account.new_origin"}


def test_without_access_data_it_is_a_clear_error():
    from custodes.engine import connect
    from custodes.errors import CustodesError

    with pytest.raises(CustodesError, match="access"):
        evaluate(connect(None, "duckdb"))
