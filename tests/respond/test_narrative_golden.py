"""Golden narratives: the plain-language account of each simulated scenario, in English and Korean,
exactly as the PIPC report and the GDPR notification print it. A small simulated platform (seed
11) goes through the real ingest and detect; each serious incident is matched to its scenario by
the detections behind it. Rule ids never appear in a narrative."""

from __future__ import annotations

import pytest

from custodes.respond import documents, report

simulate_mod = pytest.importorskip("custodes.simulate")
lake_mod = pytest.importorskip("custodes.lake")
detect_run = pytest.importorskip("custodes.detect.run")

REFERENCE = ("workforce.csv", "credentials.csv", "keys.csv", "key_custody.csv", "catalog.csv", "customers.parquet")

GOLDEN = {
    "key_forgery": {
        "en": "From 13 February to 16 February 2025, requests carrying login tokens that our authorization server "
              "never issued, signed with a key held by a former employee, read the name, email address, phone "
              "number, delivery address, building entrance code and order history of 525 customers.",
        "ko": "2025년 2월 13일부터 2월 17일까지 퇴사한 직원이 보유하던 키로 서명된, 당사 인증 서버가 발급한 적 없는 "
              "로그인 토큰을 사용한 요청으로 고객 525명의 개인정보(이름, 이메일 주소, 전화번호, 배송지 주소, 공동현관 "
              "출입번호, 주문 내역)가 조회되었습니다.",
    },
    "curious_insider": {
        "en": "From 10 February to 16 February 2025, an employee who looked up far more customer records than their "
              "work required read the name, email address, phone number, delivery address and order history of "
              "249 customers.",
        "ko": "2025년 2월 10일부터 2월 17일까지 업무에 필요한 범위를 크게 넘어 고객 정보를 조회한 직원의 요청으로 "
              "고객 249명의 개인정보(이름, 이메일 주소, 전화번호, 배송지 주소, 주문 내역)가 조회되었습니다.",
    },
    "departed_credential": {
        "en": "From 13 February to 14 February 2025, requests made with the access key of a former employee that "
              "was still valid after they left read the name, email address, phone number and delivery address of "
              "21 customers.",
        "ko": "2025년 2월 14일부터 2월 15일까지 퇴사 후에도 유효했던 전 직원의 접근 키를 사용한 요청으로 고객 21명의 "
              "개인정보(이름, 이메일 주소, 전화번호, 배송지 주소)가 조회되었습니다.",
    },
}
#: the detection that names each scenario's incident
SCENARIO_RULE = {"token.unissued": "key_forgery", "employee.many_customers": "curious_insider",
                 "credential.after_termination": "departed_credential"}


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    from custodes.detect.store import load_incidents
    from custodes.engine import connect
    from custodes.workspace import Workspace

    root = tmp_path_factory.mktemp("golden")
    out = root / "world"
    simulate_mod.simulate(out, customers=1500, days=14, seed=11)
    ws = Workspace.open(root / "ws")
    for dataset in ("access", "issuance"):
        lake_mod.ingest(ws, dataset, [out / dataset])
    for name in REFERENCE:
        lake_mod.ingest(ws, name.split(".")[0], [out / name])
    detect_run.detect(ws, full=True)
    built = {}
    with connect(ws) as engine:
        for incident in load_incidents(ws):
            if incident["severity"] not in ("high", "critical"):
                continue
            scenario = next(SCENARIO_RULE[r] for r in incident["rule_ids"] if r in SCENARIO_RULE)
            built[scenario] = report.build(engine, ws, incident["incident_id"])
    return built


@pytest.mark.parametrize("scenario", sorted(GOLDEN))
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_golden_narrative(reports, scenario, lang):
    r = reports[scenario]
    for doc in ("pipc", "gdpr33"):
        text = documents.context(r, doc, lang)["narrative"]
        assert text == GOLDEN[scenario][lang]
        assert not [rule for rule in r.rule_ids if rule in text]
