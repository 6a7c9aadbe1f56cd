"""The incident report in md, html and pdf: the facts a regulator and a data subject need."""

from __future__ import annotations

import shutil
import stat
import subprocess

import pytest

from custodes.errors import CustodesError
from custodes.respond import report
from custodes.respond.chart import timeline_svg

CONFIG = """respond:
  organization: Example Commerce Co.
  contact: {name: Privacy Office, email: privacy@example.com, phone: "+82-2-0000-0000"}
  fines: {pipa_relevant_revenue_krw: 41000000000000}
"""


@pytest.fixture
def built(world, fake_detect):
    world.workspace.config_path.write_text(CONFIG)
    return report.build(world, world.workspace, "i-forgery")


def test_report_context(built):
    assert built.scope.accounts == 3 and built.items == ["name", "email", "phone", "address", "entrance_code"]
    assert built.discovered_at.isoformat() == "2025-04-15T06:00:00+00:00"  # the finding's detected_at
    actions = {c["action"]: c["target"] for c in built.containment}
    assert actions["offboard"] == "e-ex" and "203.0.113.7" in actions["block sources"]
    assert built.offboarding[0].keys[0]["kid"] == "k-old"
    assert any("entrance code" in line for line in built.advice)


def test_markdown_and_html_carry_the_facts(built):
    md = report.render(built, "md").decode()
    for fact in ("**3**", "2025-04-18T06:00:00Z", "PIPC or KISA", "entrance_code | 1",
                 "1,230,000,000,000 KRW", "gdpr_worldwide_turnover_eur is not set", "privacy@example.com",
                 "custodes offboard e-ex --apply", "T1606"):
        assert fact in md, fact
    html = report.render(built, "html").decode()
    assert "<svg" in html and "Example Commerce Co." in html and "<script" not in html


def test_html_escapes_what_came_from_the_logs(world, fake_detect, monkeypatch):
    from . import fakes

    monkeypatch.setitem(fakes.INCIDENT, "title", "<script>alert(1)</script>")
    html = report.render(report.build(world, world.workspace, "i-forgery"), "html").decode()
    assert "<script>alert" not in html and "&lt;script&gt;" in html


def test_files_are_private_and_audited(built, world, tmp_path):
    from custodes.respond.audit import read_audit

    for fmt in report.FORMATS:
        path = report.write(world.workspace, built, fmt, tmp_path / f"r.{fmt}")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    default = report.write(world.workspace, built, "md")
    assert default == world.workspace.respond / "reports" / "i-forgery.md"
    assert [e["format"] for e in read_audit(world.workspace) if e["action"] == "report"] == ["md", "html", "pdf", "md"]


def test_pdf_reads_as_a_report(built, tmp_path):
    data = report.render(built, "pdf")
    assert data.startswith(b"%PDF-")
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) not installed")
    path = tmp_path / "r.pdf"
    path.write_bytes(data)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    for fact in ("Personal data breach report", "Data subjects (accounts) affected", "PIPC or KISA",
                 "2025-04-18T06:00:00Z", "Privacy Office", "rotate key k-old", "entrance_code"):
        assert fact in text, fact


def test_contact_not_set_is_said(world, fake_detect):
    built = report.build(world, world.workspace, "i-forgery")
    assert "NOT SET" in report.render(built, "md").decode()
    assert any("respond.contact is not set" in n for n in built.notes)


def test_unknown_incident(world, fake_detect):
    with pytest.raises(CustodesError, match="unknown incident 'i-x'"):
        report.build(world, world.workspace, "i-x")


def test_chart_has_a_slot_per_day_including_quiet_ones():
    svg = timeline_svg([{"date": "2025-04-10", "requests": 10, "accounts": 4},
                        {"date": "2025-04-13", "requests": 30, "accounts": 9}])
    assert svg.count("<rect x=") == 4 and "2025-04-12: 0 accounts" in svg
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")


def test_respond_all_writes_each_serious_incident(world, fake_detect):
    from custodes.respond.pipeline import respond_all

    done = respond_all(world, world.workspace, formats=("md",))
    assert [d["incident_id"] for d in done] == ["i-forgery"]
    assert done[0]["scope"]["accounts"] == 3
    assert (world.workspace.respond / "reports" / "i-forgery.md").exists()
    assert respond_all(world, world.workspace, severities=("low",)) == []


def test_markdown_report_escapes_markdown_and_html(world, fake_detect, monkeypatch):
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
    md = report.render(report.build(world, world.workspace, "i-forgery"), "md").decode()
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(md)
    for markup in ("<img", "<script", "<a ", "<strong>loud", "<b>Org", "<em>x", "<h1>heading"):
        assert markup not in rendered, markup
    assert "&lt;img src=x onerror=alert(1)&gt; [click](http://evil.example) **loud**" in rendered
    assert "k`&lt;/code&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in rendered  # shown whole, in its code span
