"""Markdown from the documents' own HTML, so that a document has one template whatever the format.

Only the few tags the templates use carry structure (headings, paragraphs, lists, tables, bold,
code); every text node is made inert by :func:`custodes.respond.markdown.escape` and every code
span by :func:`custodes.respond.markdown.code`, so nothing a forger wrote becomes Markdown or HTML.
Elements meant for paper (``class="print-only"``: the running header, the watermark) and
``<svg>`` charts are left out.
"""

from __future__ import annotations

from html.parser import HTMLParser

from custodes.respond.markdown import code, escape

SKIP = {"head", "style", "script", "svg", "title"}
BLOCKS = {"p", "div", "section", "header", "footer", "h1", "h2", "h3", "h4", "ul", "ol", "table", "dl"}


class _Converter(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.line: list[str] = []
        self.skip = 0                 # depth inside skipped elements
        self.stack: list[str] = []    # open tags, to close skipped ones
        self.lists: list[list] = []   # [kind, counter]
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.rows = 0
        self.code: list[str] | None = None

    # Structure ------------------------------------------------------------------------------
    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self.skip or tag in SKIP or "print-only" in (attrs.get("class") or "").split():
            if tag not in {"br", "meta", "link", "img", "hr"}:
                self.skip += 1
            return
        if tag in BLOCKS or tag == "li":
            self._flush()
        if tag in {"h1", "h2", "h3", "h4"}:
            self.line.append("#" * int(tag[1]) + " ")
        elif tag in {"ul", "ol"}:
            self.lists.append([tag, 0])
        elif tag == "li":
            kind = self.lists[-1] if self.lists else ["ul", 0]
            kind[1] += 1
            indent = "  " * (len(self.lists) - 1)
            self.line.append(indent + (f"{kind[1]}. " if kind[0] == "ol" else "- "))
        elif tag == "table":
            self.rows = 0
        elif tag == "tr":
            self.row = []
        elif tag in {"td", "th"}:
            self.cell = []
        elif tag in {"b", "strong"}:
            self._text("**")
        elif tag == "code":
            self.code = []
        elif tag == "br":
            self._text(" ")

    def handle_endtag(self, tag):
        if self.skip:
            if tag not in {"br", "meta", "link", "img", "hr"}:
                self.skip -= 1
            return
        if tag in {"b", "strong"}:
            self._text("**")
        elif tag == "code" and self.code is not None:
            text, self.code = "".join(self.code), None
            self._text(code(text))
        elif tag in {"td", "th"} and self.cell is not None and self.row is not None:
            self.row.append("".join(self.cell).strip())
            self.cell = None
        elif tag == "tr" and self.row is not None:
            row, self.row = self.row, None
            self.out.append("| " + " | ".join(c or " " for c in row) + " |")
            if self.rows == 0:
                self.out.append("|" + "---|" * len(row))
            self.rows += 1
        elif tag == "table":
            self.out.append("")
        elif tag in {"ul", "ol"} and self.lists:
            self.lists.pop()
            self._flush()
        elif tag in BLOCKS or tag == "li":
            self._flush()

    def handle_data(self, data):
        if self.skip:
            return
        if self.code is not None:
            self.code.append(data)
            return
        if not data.strip():
            if data and (self.cell or self.line):
                self._text(" ")
            return
        lead = " " if data[0].isspace() else ""
        trail = " " if data[-1].isspace() else ""
        self._text(lead + escape(data) + trail)

    # Output ---------------------------------------------------------------------------------
    def _text(self, text: str):
        (self.cell if self.cell is not None else self.line).append(text)

    def _flush(self):
        text = " ".join("".join(self.line).split(" ")).rstrip()
        if text.strip():
            self.out.append(text)
            self.out.append("")
        self.line = []


def to_markdown(html: str) -> str:
    conv = _Converter()
    conv.feed(html)
    conv.close()
    conv._flush()
    text = "\n".join(conv.out)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip() + "\n"
