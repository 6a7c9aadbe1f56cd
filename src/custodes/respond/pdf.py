"""The breach report as PDF, with fpdf2 (pure Python: no browser, no system library).

Same context and sections as the Markdown/HTML templates; the timeline chart is the same SVG,
which fpdf2 draws as vector graphics. Text is set in a Unicode TrueType font when one is installed
(Debian's fonts-nanum covers Korean names and Latin; DejaVu Sans covers Latin), embedded as a
subset; without one, the built-in Helvetica is used and text is folded to Latin-1.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

from custodes.clikit import iso, shell_command, terminal_safe
from custodes.errors import CustodesError

# fontTools reports every TrueType table it cannot subset at WARNING; it is noise for a report.
logging.getLogger("fontTools").setLevel(logging.ERROR)

RED, BLUE, GREY = (178, 58, 72), (29, 53, 87), (110, 110, 110)
_FOLD = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                       "\u2026": "...", "\u00b7": "-", "\u2265": ">=", "\u2264": "<="})


#: (regular, bold) TrueType pairs, best first: Korean-capable, then Latin-only
UNICODE_FONTS = (
    ("/usr/share/fonts/truetype/nanum/NanumGothic.ttf", "/usr/share/fonts/truetype/nanum/NanumGothicBold.ttf"),
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
)


def _fold(value, unicode_font: bool) -> str:
    text = terminal_safe(str(value)).translate(_FOLD)
    return text if unicode_font else text.encode("latin-1", "replace").decode("latin-1")


def _register_font(pdf) -> str:
    for regular, bold in UNICODE_FONTS:
        if Path(regular).is_file() and Path(bold).is_file():
            pdf.add_font("Body", "", regular)
            pdf.add_font("Body", "B", bold)
            pdf.add_font("Body", "I", regular)  # no italic face: the regular one stands in
            return "Body"
    return "Helvetica"


def _num(n) -> str:
    return "not set" if n is None else f"{n:,.0f}"


class _Doc:
    def __init__(self, report):
        try:
            from fpdf import FPDF
        except ImportError:
            raise CustodesError("PDF reports need fpdf2: pip install 'fpdf2>=2.8,<3'") from None
        self.r = report
        self.pdf = FPDF(format="A4")
        self.family = _register_font(self.pdf)
        self.pdf.set_auto_page_break(True, margin=15)
        self.pdf.set_margins(16, 16, 16)
        self.pdf.add_page()
        title = f"Breach report {report.incident['incident_id']}"
        self.pdf.set_title(self._t(title))
        self.pdf.set_creator("custodes")
        self.width = self.pdf.w - 32

    def _t(self, value) -> str:
        return _fold(value, self.family != "Helvetica")

    def h1(self, text):
        self.pdf.set_font(self.family, "B", 17)
        self.pdf.set_text_color(*RED)
        self.pdf.multi_cell(self.width, 8, self._t(text), new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_text_color(0)

    def h2(self, text):
        if self.pdf.get_y() > self.pdf.h - 45:
            self.pdf.add_page()
        self.pdf.ln(3)
        self.pdf.set_font(self.family, "B", 12.5)
        self.pdf.set_text_color(*BLUE)
        self.pdf.cell(self.width, 8, self._t(text), new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_draw_color(*BLUE)
        self.pdf.line(16, self.pdf.get_y(), 16 + self.width, self.pdf.get_y())
        self.pdf.ln(2)
        self.pdf.set_text_color(0)

    def para(self, text, style="", size=10, color=0):
        self.pdf.set_font(self.family, style, size)
        self.pdf.set_text_color(*(color if isinstance(color, tuple) else (color,)))
        self.pdf.multi_cell(self.width, 5, self._t(text), new_x="LMARGIN", new_y="NEXT", align="L")
        self.pdf.set_text_color(0)

    def labelled(self, label, text, size=10):
        """A bold label run into plain text; no markdown, so `--apply` stays as typed."""
        self.pdf.set_font(self.family, "B", size)
        self.pdf.write(5, self._t(label + " "))
        self.pdf.set_font(self.family, "", size)
        self.pdf.write(5, self._t(text))
        self.pdf.ln(5)

    def bullet(self, text, indent=4):
        self.pdf.set_font(self.family, "", 10)
        self.pdf.set_x(16 + indent)
        self.pdf.multi_cell(self.width - indent, 5, self._t("-  " + text), new_x="LMARGIN", new_y="NEXT", align="L")

    def table(self, header, rows, widths=None):
        self.pdf.set_font(self.family, "", 9)
        with self.pdf.table(col_widths=widths, text_align="LEFT", line_height=4.6, first_row_as_headings=bool(header),
                            headings_style=_heading_style()) as table:
            if header:
                table.row([self._t(h) for h in header])
            for row in rows:
                table.row([self._t(c) for c in row])
        self.pdf.ln(2)

    def chart(self):
        svg = self.r.chart_svg.encode("utf-8")
        try:
            self.pdf.image(io.BytesIO(svg), w=self.width)
        except Exception as exc:  # a chart that cannot be drawn must not cost the report
            self.para(f"(timeline chart unavailable: {exc})", "I", 9, GREY)


def _heading_style():
    from fpdf.fonts import FontFace

    return FontFace(emphasis="BOLD", fill_color=(236, 239, 244))


def render_pdf(report) -> bytes:
    d, s, a, i = _Doc(report), report.scope, report.assessment, report.incident
    d.h1("Personal data breach report")
    d.para(i["title"], "B", 11)
    d.para(f"Incident {i['incident_id']} - severity {i['severity']} - {report.organization} - generated "
           f"{iso(report.generated_at)} by custodes from the access logs (all times UTC)", size=9, color=GREY)
    d.h2("Summary")
    d.table(None, [
        ["Data subjects (accounts) affected", _num(s.accounts)],
        ["Records disclosed (bulk responses counted)", _num(s.records)],
        ["Malicious requests", _num(s.requests)],
        ["First unauthorised access", iso(s.first_access)],
        ["Last unauthorised access", iso(s.last_access)],
        ["Discovered", f"{iso(report.discovered_at)} ({report.discovered_basis})"],
    ], widths=(45, 55))
    d.h2("Personal data items leaked")
    d.table(["item", "accounts exposed"], [[k, _num(v)] for k, v in s.fields.items()] or [["(none known)", ""]],
            widths=(50, 50))
    d.h2("When and how")
    d.chart()
    for f in i.get("findings") or []:
        attack = f"; ATT&CK {', '.join(f['attack'])}" if f.get("attack") else ""
        d.bullet(f"{f['first_seen']} to {f['last_seen']}: {f['title']} ({f['rule_id']}, {f['severity']}{attack})")
    if not i.get("findings"):
        d.bullet(f"{i['first_seen']} to {i['last_seen']}: {i['title']}")
    d.h2("Deadlines and duties")
    d.table(["regime", "to", "article", "required", "due", "why"],
            [[x.regime, x.who, x.article, "yes" if x.required else "no", iso(x.due) if x.due else "without undue delay",
              x.why] for x in a.duties], widths=(8, 14, 15, 10, 23, 40))
    d.h2("Fine exposure (ceiling)")
    for f in a.fines:
        amount = f"up to {_num(f.ceiling)} {f.currency}" if f.configured else "not computed"
        d.labelled(f"{f.regime}:", f"{amount}: {f.basis}")
    _notice(d, report)
    _containment(d, report)
    if report.notes:
        d.h2("Notes")
        for n in report.notes:
            d.bullet(n)
    d.pdf.ln(3)
    d.para("Decision support for the privacy officer and counsel, not legal advice.", "I", 8.5, GREY)
    return bytes(d.pdf.output())


def _notice(d, report):
    s, i = report.scope, report.incident
    d.h2("Notice to data subjects")
    d.para(f"We are writing to tell you that personal information about you held by {report.organization} was "
           f"accessed without authorisation between {iso(s.first_access)} and {iso(s.last_access)}.")
    d.pdf.ln(1)
    d.labelled("What was leaked:", f"{', '.join(report.items) or 'no personal-data item'}.")
    d.labelled("When and how:", f"{i['title']}.")
    d.labelled("What you can do:", "")
    for line in report.advice:
        d.bullet(line, indent=6)
    done = "; ".join(f"{c['action']} ({c['target']})" for c in report.containment)
    d.labelled("What we are doing:", f"{done}.")
    c = report.contact
    contact = " ".join(str(c.get(k, "")) for k in ("name", "email", "phone")).strip() if c else \
        "NOT SET (respond.contact in custodes.yaml)"
    d.labelled("Contact point:", contact)


def _containment(d, report):
    d.h2("Containment plan")
    for n, c in enumerate(report.containment, 1):
        command = f": {c['command']}" if c.get("command") else ""
        d.labelled(f"{n}. {c['action']}", f"{c['target']}: {c['detail']}{command}")
    for p in report.offboarding:
        d.pdf.ln(1)
        d.para(f"Offboarding {p.employee_id}" + (f" ({p.name})" if p.name else ""), "B", 10.5)
        ended = iso(p.terminated_at) if p.terminated_at else "no (still employed)"
        d.para(f"As of {iso(p.as_of)}; terminated {ended}", size=9, color=GREY)
        for c in p.credentials:
            d.bullet(f"revoke credential {c['credential_id']} ({c['credential_type']}): {c['requests']} requests, "
                     f"{c['requests_after_termination']} after termination")
        for k in p.keys:
            d.bullet(f"rotate key {k['kid']} ({k['alg']}, storage {k['storage']}): "
                     f"{_q(k['live_issued_tokens'])} live issued tokens, {_q(k['tokens_seen_7d'])} tokens seen in "
                     f"the last 7 days, {_q(k['unissued_tokens_seen'])} of them never issued")
        for sid in p.sessions[:20]:
            d.bullet(f"end session {sid}")
        if len(p.sessions) > 20:
            d.bullet(f"... and {len(p.sessions) - 20} more sessions (see {shell_command('custodes', 'offboard', p.employee_id)})")


def _q(value) -> str:
    return "?" if value is None else f"{value:,}"
