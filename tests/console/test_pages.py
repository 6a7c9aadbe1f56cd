"""What each page shows, and what it says when its data source is not there."""

from __future__ import annotations


import pytest
from starlette.testclient import TestClient

from custodes.console.app import create_app
from custodes.console.sources import Outcome

from . import world
from .helpers import HandMadeSources, login


def _client_with(ws, sources):
    app = create_app(ws, sources=sources, allowed_hosts=["testserver"])
    c = TestClient(app, base_url="http://testserver", follow_redirects=False)
    assert login(c, "anna").status_code == 303
    return c


def test_incident_list_is_worst_first_with_counts(as_role):
    html = as_role("anna").get("/incidents").text
    assert html.index("i-forgery") < html.index("i-departed")
    assert "sev-critical" in html and "Forged customer tokens" in html


def test_incident_detail_has_timeline_findings_and_blast_radius(as_role):
    html = as_role("vera").get("/incidents/i-forgery").text
    assert 'id="timeline"' in html and "token.unissued" in html and "behaviour.source_many_accounts" in html
    assert "T1606" in html
    assert 'id="blast-accounts">30<' in html
    for item in ("name", "email", "phone", "address"):
        assert f">{item}</text>" in html
    assert "entrance_code" not in html


def test_departed_credential_incident_counts_bulk_records(as_role):
    html = as_role("anna").get("/incidents/i-departed").text
    assert 'id="blast-accounts">0<' in html  # a bulk export names no single account
    assert ">100</div><div class=\"k\">records" in html


def test_unknown_and_malformed_incident_ids_are_404(as_role):
    client = as_role("anna")
    assert client.get("/incidents/i-nope").status_code == 404
    assert client.get("/incidents/%3Cscript%3E").status_code == 404


def test_data_from_sources_is_escaped(ws):
    evil = dict(world.INCIDENTS[0], title='<script>alert(1)</script><img src=x onerror=alert(1)>')
    c = _client_with(ws, HandMadeSources(ws, incidents=[evil]))
    html = c.get("/incidents").text + c.get("/incidents/i-forgery").text
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_findings_filter_by_severity_and_rule(as_role):
    client = as_role("anna")
    html = client.get("/findings?severity=critical").text
    assert "Tokens signed with kid" in html and "API key ak-1 used after" not in html
    html = client.get("/findings?severity=high").text
    assert "Tokens signed with kid" in html and "API key ak-1 used after" in html
    html = client.get("/findings?rule=credential.after_termination").text
    assert "API key ak-1 used after" in html and "Tokens signed with kid" not in html
    assert client.get("/findings?severity=%3Cbad%3E").status_code == 200


def test_scope_page_pivots_on_an_indicator(as_role, ws):
    client = as_role("anna")
    html = client.get("/scope?kind=src_ip&value=203.0.113.0/24").text
    assert 'id="blast-accounts">30<' in html and "c-1000" in html
    html = client.get("/scope?kind=credential&value=ak-1").text
    assert ">100</div><div class=\"k\">records" in html
    html = client.get("/scope?kind=kid&value=k-none").text
    assert "Not available" in html and "matches no access request" in html
    assert client.get("/scope?kind=sql&value=1").status_code == 400  # unknown kind: the form again
    assert client.get("/scope").status_code == 200


def test_posture_page_lists_the_departed(as_role):
    html = as_role("vera").get("/posture").text
    assert "k-2019" in html and "e-101" in html and "ak-1" in html
    assert "ak-3" not in html and "ak-2" not in html  # revoked; owner not gone yet in data time


def test_a_broken_source_does_not_take_the_page_down(ws, capsys):
    class Broken(HandMadeSources):
        def scope_incident(self, incident_id, with_accounts=False):
            from custodes.console.sources import _failed

            return _failed("blast radius", RuntimeError("disk on fire"))

    c = _client_with(ws, Broken(ws))
    r = c.get("/incidents/i-forgery")
    assert r.status_code == 200 and "blast radius failed (RuntimeError)" in r.text
    assert "token.unissued" in r.text  # the rest of the page is there


def test_lake_page_shows_datasets_and_seals(ws):
    status = {"datasets": {"access": {"rows": 12345, "quarantined": 3, "files": 3,
                                      "first_time": "2025-04-14T09:00:00Z", "last_time": "2025-04-16T12:49:00Z"}},
              "seals": {"partitions": 3, "sealed": 3, "head": "ab12"}}

    class WithLake(HandMadeSources):
        def lake_status(self):
            return Outcome(status)

    html = _client_with(ws, WithLake(ws)).get("/lake").text
    assert "12,345" in html and "2025-04-16 12:49:00" in html and "ab12" in html


@pytest.mark.parametrize("daily,top", [([{"date": "2025-04-14", "requests": 3, "accounts": 3}], "5"),
                                       ([{"date": "2025-04-14", "requests": 9, "accounts": 1200}], "2,000")])
def test_daily_chart_scales_to_a_readable_axis(daily, top):
    from custodes.console.charts import daily_bars

    chart = daily_bars(daily)
    assert chart["ticks"][-1]["label"] == top
    bar = chart["bars"][0]
    assert 0 < bar["h"] <= chart["base"] and bar["y"] + bar["h"] == pytest.approx(chart["base"])


def test_daily_chart_keeps_quiet_days_on_the_axis():
    from custodes.console.charts import daily_bars

    chart = daily_bars([{"date": "2025-04-14", "requests": 5, "accounts": 4},
                        {"date": "2025-04-17", "requests": 2, "accounts": 2}])
    assert [b["date"] for b in chart["bars"]] == ["2025-04-14", "2025-04-15", "2025-04-16", "2025-04-17"]
    assert [b["value"] for b in chart["bars"]] == [4, 0, 0, 2]


def test_timeline_has_a_lane_per_rule_and_long_windows_do_not_squash_it():
    from custodes.console.charts import finding_lanes

    findings = [
        {"rule_id": "key.posture", "severity": "medium", "first_seen": "2020-03-02T00:00:00Z", "last_seen": "2025-02-23T00:00:00Z"},
        {"rule_id": "token.unissued", "severity": "high", "first_seen": "2025-02-17T00:00:00Z", "last_seen": "2025-02-18T00:00:00Z"},
        {"rule_id": "token.unissued", "severity": "critical", "first_seen": "2025-02-20T00:00:00Z", "last_seen": "2025-02-23T00:00:00Z"},
    ]
    chart = finding_lanes(findings)
    assert [(lane["rule_id"], lane["count"], lane["severity"]) for lane in chart["lanes"]] == [
        ("key.posture", 1, "medium"), ("token.unissued", 2, "critical")]
    assert chart["start"].isoformat().startswith("2025-02-17")  # the axis is the attack, not the key's age
    assert chart["lanes"][0]["clipped"] and not chart["lanes"][1]["clipped"]
    seg = chart["lanes"][1]["segments"]
    assert seg[0]["x"] == chart["left"] and seg[1]["x"] + seg[1]["w"] == pytest.approx(chart["right"])


def test_only_the_first_accounts_are_shown_but_the_export_has_all(ws, monkeypatch):
    import custodes.console.sources as sources_mod

    from .helpers import csrf_of

    monkeypatch.setattr(sources_mod, "ACCOUNTS_SHOWN", 10)
    c = _client_with(ws, HandMadeSources(ws))
    html = c.get("/incidents/i-forgery").text
    assert "showing 10 of 30" in html and "c-1009" in html and "c-1010" not in html
    r = c.post("/incidents/i-forgery/accounts.csv", data={"csrf": csrf_of(html)})
    assert len(r.text.splitlines()) == 31
    # the temporary export file is gone once sent
    from custodes.console.users import console_dir

    assert not list(console_dir(ws).glob(".export-*"))


def test_a_share_in_the_evidence_is_a_percentage_on_the_findings_and_incident_pages(ws):
    """A rule's ``share_new`` of 0.82 once read "share_new 0": the fraction cut to an integer."""
    found = [dict(f, evidence={"requests": 1234, "accounts": 950, "share_new": 0.82})
             for f in world.FINDINGS if f["incident_id"] == "i-forgery"]
    c = _client_with(ws, HandMadeSources(ws, findings=found))
    for html in (c.get("/findings").text, c.get("/incidents/i-forgery").text):
        assert "share_new <b>82%</b>" in html and "requests <b>1,234</b>" in html
        assert "share_new <b>0</b>" not in html


def test_the_lake_page_says_yes_no_and_a_dash_never_python_s_false_and_none(ws):
    status = {"datasets": {"access": {"rows": 5, "quarantined": 0, "files": 1, "first_time": None,
                                      "last_time": None}},
              "seals": {"entries": 1, "head_seq": 1, "head": "ab12", "signed": False, "verified": None,
                        "anchor_pending": 0, "nested": {"ok": True, "why": None}}}

    class WithLake(HandMadeSources):
        def lake_status(self):
            return Outcome(status)

    html = _client_with(ws, WithLake(ws)).get("/lake").text
    body = html[html.index("<main"):]
    assert "False" not in body and "None" not in body and "True" not in body
    assert "<td>no</td>" in body and "<td>\u2014</td>" in body and "ok <b>yes</b>" in body


@pytest.mark.parametrize("path", ["/incidents", "/incidents/i-forgery", "/incidents/i-departed", "/findings",
                                  "/posture", "/lake", "/audit", "/scope?kind=kid&value=k-2019"])
def test_no_page_shows_python_s_none_true_or_false(as_role, path):
    import re

    client = as_role("adam")  # an admin: every page, the audit trail too
    html = client.get(path).text
    assert client.get(path).status_code == 200
    shown = re.findall(r">\s*([^<>]*?)\s*<", html[html.index("<main"):])
    assert not [s for s in shown if re.fullmatch(r"None|True|False", s) or re.search(r"\bNone\b", s)], path
