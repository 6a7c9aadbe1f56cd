"""The breach documents on the hand-made world: the facts a regulator and a data subject need, in
Korean and English, as PDF that a reader (pdftotext) reads, drafts that look like drafts, and
one template behind the HTML, the PDF and the Markdown."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import stat

import jinja2
import pytest
from importlib import resources

from custodes.errors import CustodesError
from custodes.respond import documents, report
from custodes.respond.chart import timeline_svg
from custodes.respond.i18n import Catalogue

from .pdftext import outline, pages, squash

UTC = dt.timezone.utc
FOUND = dt.datetime(2025, 4, 15, 9, tzinfo=UTC)
CONFIG = """respond:
  organization: {en: Example Commerce Co., ko: 예시커머스 주식회사}
  privacy_officer: {name: {en: Kim Minji, ko: 김민지}, title: CPO, email: privacy@example.com, phone: "+82-2-0000-0000"}
  contact: {name: Privacy Office, email: help@example.com, phone: "1588-0000", hours: {en: "weekdays 9-18", ko: "평일 9-18시"}}
  fines: {pipa_total_revenue_krw: 41000000000000, pipa_unrelated_revenue_krw: 1000000000000}
"""

#: per document, the sections the law asks for (catalogue keys) and literal text a reader must find
SECTIONS = {
    "pipc": ["sections.organization", "labels.privacy_officer", "sections.items", "sections.when_how",
             "sections.subjects_can_do", "sections.measures", "sections.contact", "sections.rights",
             "sections.deadlines", "sections.fines", "labels.subjects", "labels.discovered", "labels.notify_by"],
    "gdpr33": ["sections.controller", "sections.nature", "labels.approx_subjects", "labels.approx_records",
               "labels.categories_records", "sections.consequences", "sections.gdpr_measures",
               "sections.which_deadlines", "sections.fines"],
    "notice": ["sections.notice_items", "sections.notice_when", "sections.notice_can_do", "sections.notice_we_did",
               "sections.notice_contact", "sections.notice_rights"],
    "annex": ["sections.annex_findings", "sections.annex_evidence", "sections.annex_timeline",
              "sections.annex_containment", "sections.annex_queries"],
}
LITERAL = {
    ("pipc", "ko"): ["개인정보 유출 등 신고서", "유출된 개인정보 항목", "피해 신고 접수 담당부서 및 연락처", "김민지",
                     "예시커머스 주식회사", "개인정보보호위원회 또는 한국인터넷진흥원", "2025-04-18 18:00 KST"],
    ("pipc", "en"): ["Personal Information Protection Commission", "Kim Minji", "2025-04-18 09:00 UTC",
                     "1,200,000,000,000 KRW"],
    ("gdpr33", "en"): ["Art. 33(3)", "Likely consequences", "privacy@example.com", "10,000,000 EUR", "20,000,000 EUR"],
    ("gdpr33", "ko"): ["GDPR 제33조", "예상되는 결과"],
    ("notice", "ko"): ["개인정보 유출 통지", "배송지 주소", "분쟁조정위원회", "Customer 10 고객님께"],
    ("notice", "en"): ["Notice of a personal data breach", "delivery address", "Dispute Mediation", "Dear Customer 10"],
    ("annex", "en"): ["token.unissued", "T1606", "custodes scope --incident i-forgery", "custodes offboard e-ex --apply"],
    ("annex", "ko"): ["token.unissued", "차단 계획"],
}


@pytest.fixture
def configured(world, fake_detect):
    world.workspace.config_path.write_text(CONFIG)
    return report.build(world, world.workspace, "i-forgery", discovered_at=FOUND, people=True)


@pytest.fixture
def unconfigured(world, fake_detect):
    return report.build(world, world.workspace, "i-forgery", people=True)


def test_the_facts(configured):
    r = configured
    assert r.scope.accounts == 3 and r.items == ["name", "email", "phone", "address", "entrance_code"]
    assert r.first_detected.isoformat() == "2025-04-15T06:00:00+00:00"  # the finding's detected_at
    assert r.discovered_at == FOUND and r.missing == []
    actions = {c["action"]: c["target"] for c in r.containment}
    assert actions["offboard"] == "e-ex" and "203.0.113.7" in actions["block_sources"]
    a = r.assessment
    assert a.duty("pipa_notice").due == FOUND + dt.timedelta(hours=72)
    assert a.duty("pipa_report").required is True  # access from outside (token.unissued)
    assert a.unreachable == 0  # c10-c12 all have an e-mail in the directory


def test_deadlines_count_from_discovered_at(world, fake_detect):
    later = FOUND + dt.timedelta(days=2)
    r = report.build(world, world.workspace, "i-forgery", discovered_at=later)
    ctx = documents.context(r, "pipc", "en")
    assert ctx["notify_by"] == ctx["report_by"] == later + dt.timedelta(hours=72)
    assert not ctx["discovered_provisional"]


@pytest.mark.parametrize("doc", documents.DOCS)
@pytest.mark.parametrize("lang", ["ko", "en"])
def test_each_pdf_reads_with_its_sections_and_page_numbers(configured, doc, lang, tmp_path):
    t = Catalogue(lang)
    data = documents.render(configured, doc, lang, "pdf")
    assert data.startswith(b"%PDF-")
    text = pages(data, tmp_path)
    whole = squash(" ".join(text))  # Korean wraps between any two syllables: compare without spaces
    for key in SECTIONS[doc]:
        assert squash(t(key)) in whole, (doc, lang, key)
    for literal in LITERAL.get((doc, lang), []):
        assert squash(literal) in whole, (doc, lang, literal)
    for n, page in enumerate(text, 1):
        assert f"{n} / {len(text)}" in page, f"page {n} has no page number"
        assert "i-forgery" in page, f"page {n} has no running header"
    assert "DRAFT" not in whole
    if doc != "annex":  # rule ids belong in the annex only
        assert "token.unissued" not in whole and "key.departed_custodian" not in whole


def test_a_draft_carries_its_mark_on_every_page_and_says_what_is_missing(unconfigured, tmp_path):
    for lang in ("ko", "en"):
        text = pages(documents.render(unconfigured, "pipc", lang, "pdf"), tmp_path)
        assert len(text) >= 2
        assert all("DRAFT" in page for page in text)
        t = Catalogue(lang)
        for code in report.REQUIRED:
            expected = t(f"draft.fields.{code}", provisional=t.time(unconfigured.first_detected))
            assert squash(expected) in squash(text[0]), (lang, code)
    html = documents.render(unconfigured, "gdpr33", "en", "html").decode()
    assert 'class="missing"' in html and "respond.privacy_officer.name" in html


def test_check_exits_1_naming_each_missing_field(world, capsys):
    from .test_commands import run

    code, out, err = run(capsys, "report", "--check", "--workspace", str(world.workspace.root))
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1
    for name in ("respond.organization", "respond.privacy_officer.name", "respond.privacy_officer.email",
                 "--discovered-at"):
        assert name in err
    world.workspace.config_path.write_text(CONFIG)
    code, out, err = run(capsys, "report", "--check", "--workspace", str(world.workspace.root))
    assert code == 1 and "--discovered-at" in err and "respond.organization" not in err
    code, out, err = run(capsys, "report", "--check", "--discovered-at", "2025-04-15T09:00:00Z",
                         "--workspace", str(world.workspace.root))
    assert code == 0, err


def test_pdf_has_an_outline(configured, tmp_path):
    t = Catalogue("ko")
    marks = outline(documents.render(configured, "pipc", "ko", "pdf"), tmp_path)
    assert marks[0] == t("documents.pipc")
    assert f"3. {t('sections.items')}" in marks and f"8. {t('sections.deadlines')}" in marks


def test_html_pdf_and_markdown_come_from_one_template(configured, tmp_path):
    """Change a heading in the template: the HTML, the PDF and the Markdown all show it."""
    templates = tmp_path / "templates"
    shutil.copytree(resources.files("custodes.respond") / "templates", templates)
    pipc = templates / "pipc.html.j2"
    source = pipc.read_text()
    assert '<h2>3. {{ t("sections.items") }}</h2>' in source
    pipc.write_text(source.replace('<h2>3. {{ t("sections.items") }}</h2>', "<h2>3. Changed heading Zq7</h2>"))
    env = documents.environment(jinja2.FileSystemLoader(templates))
    html = documents.render(configured, "pipc", "en", "html", env=env).decode()
    md = documents.render(configured, "pipc", "en", "md", env=env).decode()
    pdf = documents.render(configured, "pipc", "en", "pdf", env=env)
    assert "<h2>3. Changed heading Zq7</h2>" in html
    assert "## 3\\. Changed heading Zq7" in md
    assert "3. Changed heading Zq7" in " ".join(pages(pdf, tmp_path))
    assert "3. Changed heading Zq7" in outline(pdf, tmp_path)


def test_json_gives_the_fields_the_document_shows(configured):
    ctx = json.loads(documents.render(configured, "gdpr33", "en", "json"))
    html = documents.render(configured, "gdpr33", "en", "html").decode()
    assert ctx["subjects"] == 3 and ctx["records"] == 5 and ctx["draft"] is False
    assert ctx["discovered_at"] == "2025-04-15T09:00:00Z"
    assert [i["code"] for i in ctx["items"]] == ["name", "email", "phone", "address", "entrance_code"]
    assert {d["code"] for d in ctx["duties"]} >= {"gdpr_authority", "gdpr_subjects"}
    assert ctx["narrative"] in html and ctx["risk"] in html
    assert all(c in html for c in ctx["consequences"])
    fines = {f["code"]: f["ceiling"] for f in ctx["fines"]}
    assert fines["pipa"] == pytest.approx(1.2e12) and fines["gdpr_83_5"] == 20_000_000


def test_narrative_on_the_hand_made_world(configured):
    en = documents.context(configured, "pipc", "en")["narrative"]
    ko = documents.context(configured, "pipc", "ko")["narrative"]
    assert en == ("From 14 April to 15 April 2025, requests carrying login tokens that our authorization server never "
                  "issued read the name, email address, phone number, delivery address and building entrance code "
                  "of 3 customers.")
    assert ko == ("2025년 4월 14일부터 4월 15일까지 당사 인증 서버가 발급한 적 없는 로그인 토큰을 사용한 요청으로 고객 3명의 "
                  "개인정보(이름, 이메일 주소, 전화번호, 배송지 주소, 공동현관 출입번호)가 조회되었습니다.")


def test_files_are_private_and_audited(configured, world, tmp_path):
    from custodes.respond.audit import read_audit

    for fmt in documents.FORMATS:
        path = documents.write(world.workspace, configured, "pipc", None, fmt, tmp_path / f"r.{fmt}")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    default = documents.write(world.workspace, configured, "gdpr33", None, "md")
    assert default == world.workspace.respond / "reports" / "i-forgery-gdpr33-en.md"
    entries = [e for e in read_audit(world.workspace) if e["action"] == "report"]
    assert [(e["document"], e["format"]) for e in entries] == [("pipc", f) for f in documents.FORMATS] + [("gdpr33", "md")]


def test_mail_merge_has_each_persons_items_and_when(configured, world, tmp_path):
    import csv

    path = documents.write(world.workspace, configured, "notice", "ko", "csv", tmp_path / "merge.csv")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    rows = {r["account_id"]: r for r in csv.DictReader(path.open(newline="", encoding="utf-8"))}
    assert set(rows) == {"c10", "c11", "c12"}
    assert rows["c12"]["items"] == "이름, 이메일 주소, 배송지 주소, 공동현관 출입번호"
    assert rows["c12"]["first_access"] == "2025-04-15 11:00 KST" and rows["c12"]["email"] == "c12@example.com"
    assert rows["c11"]["exposure"] == ("2025년 4월 14일에 당사 인증 서버가 발급한 적 없는 로그인 토큰을 사용한 요청으로 "
                                       "고객님의 개인정보(이름, 이메일 주소)가 조회되었습니다.")
    en = documents.merge_csv(configured, "en").decode()
    assert "14 April 2025" in en and "2025-04-14 05:00 UTC" in en


def test_the_sample_notice_is_the_fullest_letter(configured):
    """c10 and c12 each had four items read; the first of them by account id is the sample, and its
    advice is about its own items (c10's entrance code was not read)."""
    sample = documents.context(configured, "notice", "en")["sample"]
    assert sample["account_id"] == "c10" and sample["name"] == "Customer 10"
    assert sample["items"] == ["name", "email address", "phone number", "delivery address"]
    assert not [a for a in sample["advice"] if "entrance code" in a]
    assert any("text-message" in a for a in sample["advice"])


def test_html_escapes_what_came_from_the_logs(world, fake_detect, monkeypatch):
    from . import fakes

    monkeypatch.setitem(fakes.INCIDENT, "title", "<script>alert(1)</script>")
    r = report.build(world, world.workspace, "i-forgery")
    html = documents.render(r, "annex", "en", "html").decode()
    assert "<script>alert" not in html and "&lt;script&gt;" in html


def test_a_report_reads_the_stored_incidents_once(world, fake_detect, monkeypatch):
    """incidents.json is read (and triage joined to it) once per report, not by each step."""
    from custodes.detect import store

    reads = []
    loader = store.load_incidents
    monkeypatch.setattr(store, "load_incidents", lambda ws: reads.append(ws) or loader(ws))
    r = report.build(world, world.workspace, "i-forgery")
    assert r.scope.requests == 5 and len(reads) == 1


def test_unknown_incident_document_and_language(world, fake_detect):
    with pytest.raises(CustodesError, match="unknown incident 'i-x'"):
        report.build(world, world.workspace, "i-x")
    with pytest.raises(CustodesError, match="unknown document"):
        documents.check("memo", None, "pdf")
    with pytest.raises(CustodesError, match="has no format 'csv'"):
        documents.check("pipc", "ko", "csv")


def test_chart_has_a_slot_per_day_including_quiet_ones():
    svg = timeline_svg([{"date": "2025-04-10", "requests": 10, "accounts": 4},
                        {"date": "2025-04-13", "requests": 30, "accounts": 9}])
    assert svg.count("<rect x=") == 4 and "2025-04-12: 0 accounts" in svg
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")


def test_respond_all_writes_the_demo_documents(world, fake_detect):
    from custodes.respond.pipeline import respond_all

    done = respond_all(world, world.workspace, docs=(("pipc", "ko", "md"), ("gdpr33", "en", "md")))
    assert [d["incident_id"] for d in done] == ["i-forgery"]
    assert done[0]["scope"]["accounts"] == 3 and "--discovered-at" in done[0]["draft"]
    assert set(done[0]["reports"]) == {"pipc-ko.md", "gdpr33-en.md"}
    assert (world.workspace.respond / "reports" / "i-forgery-pipc-ko.md").exists()
    assert respond_all(world, world.workspace, severities=("low",)) == []


def test_markdown_escapes_markdown_and_html(world, fake_detect, monkeypatch):
    """A forger names the key and the title's text; the operator's config names the organisation.
    Rendered by a CommonMark renderer that passes raw HTML through (as many do), none of it may
    become markup: no image, script, link, emphasis or heading, and the text still reads as it was."""
    from markdown_it import MarkdownIt

    from . import fakes

    title = "<img src=x onerror=alert(1)> [click](http://evil.example) **loud** ![i](http://evil.example/p.png)"
    entities = dict(fakes.INCIDENT["entities"], kid=["k`</code><script>alert(1)</script>"],
                    credential_id=["#\n# heading"])
    monkeypatch.setitem(fakes.INCIDENT, "title", title)
    monkeypatch.setitem(fakes.INCIDENT, "entities", entities)
    world.workspace.config_path.write_text(
        'respond: {organization: "<b>Org</b> _x_", contact: {name: "[Privacy](http://evil.example)"}}\n')
    r = report.build(world, world.workspace, "i-forgery")
    for doc in ("annex", "pipc"):
        md = documents.render(r, doc, "en", "md").decode()
        rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(md)
        for markup in ("<img", "<script", "<a ", "<strong>loud", "<b>Org", "<em>x", "<h1>heading"):
            assert markup not in rendered, (doc, markup)
    md = documents.render(r, "annex", "en", "md").decode()
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(md)
    assert "&lt;img src=x onerror=alert(1)&gt; [click](http://evil.example) **loud**" in rendered
    assert "k`&lt;/code&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in rendered  # shown whole, in its code span


def test_the_annex_shows_a_share_of_the_evidence_as_a_percentage(configured):
    """``share_new`` 0.82 (account.new_origin, source.low_and_slow) is 82%, in the HTML and the
    Markdown alike; counts keep their thousands separators."""
    configured.findings[0] = dict(configured.findings[0], evidence={"requests": 48211, "share_new": 0.82})
    for fmt in ("html", "md"):
        text = documents.render(configured, "annex", "en", fmt).decode()
        assert "share_new 82%" in text and "requests 48,211" in text, fmt
