"""A forger's text in the breach documents: a token `sub`, a `kid`, a route, a user agent and a
customer name written to inject HTML and CSS, to fetch a URL while the PDF is laid out, to break
the page with one endless word, and to smuggle formulas into the mail-merge file. The logs go
through the real ingest and detect; a local HTTP server counts every fetch that reaches it."""

from __future__ import annotations

import csv
import datetime as dt
import http.server
import io
import threading

import pytest

from custodes.respond import documents, report
from custodes.workspace import Workspace

from . import hostile
from .pdftext import pages, squash, words


class _Counter(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's name
        type(self).hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.end_headers()
        self.wfile.write(b"body{background:red}")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Counter.hits
    httpd.shutdown()
    httpd.server_close()


def payloads(base: str) -> dict[str, str]:
    return {
        "sub": f'<img src="{base}/sub.png"><script>alert(1)</script>',
        "kid": (f'</code><style>@import url({base}/kid.css);*{{background:url({base}/bg.png)}}</style>'
                f'<link rel=stylesheet href="{base}/link.css">' + "K" * 600),
        "route": f'/api/v1/me/profile<iframe src="{base}/route">',
        "ua": f'curl/8 style="background:url({base}/ua)"',
        "name": f'<b style="font-size:90pt">Mallory</b><img src="{base}/name.png">',
    }


@pytest.fixture(scope="module")
def ws(tmp_path_factory, server):
    base, _ = server
    p = payloads(base)
    folder = tmp_path_factory.mktemp("hostile-docs")
    access, issuance = [], []
    for n in range(1, 6):  # customers reading their own data with issued tokens
        t = hostile.T0 + dt.timedelta(hours=n)
        issuance.append({"time": t.isoformat(), "token_id": f"t{n}", "kid": "k-new", "subject": f"c{n}",
                         "actor_type": "customer", "iat": t.isoformat(),
                         "exp": (t + dt.timedelta(hours=1)).isoformat(), "src_ip": f"10.0.0.{n}"})
        access.append(hostile._access(t + dt.timedelta(minutes=1), f"c{n}", f"t{n}", "k-new", ip=f"10.0.0.{n}"))
    subs = [p["sub"]] + hostile.FORMULA_SUBS
    for i, sub in enumerate(subs * 2):  # the forger: tokens nobody issued, signed with the hostile kid
        access.append(hostile._access(hostile.T0 + dt.timedelta(hours=8, minutes=i), sub, f"forged-{i}", p["kid"],
                                      route=p["route"] if i % 2 else hostile.ROUTE, ua=p["ua"], ip="203.0.113.7"))
    catalog = folder / "catalog.csv"
    route = p["route"].replace('"', '""')
    catalog.write_text(f'route,fields\n{hostile.ROUTE},name;email\n"{route}",name;email;phone\n')
    customers = [{"account_id": sub, "name": p["name"] if n == 0 else "=1+2", "email": "@evil.example",
                  "phone": "+82-10-0000-0000"} for n, sub in enumerate(subs)]
    files = {"access": hostile._jsonl(folder / "gateway.jsonl", access),
             "issuance": hostile._jsonl(folder / "idp.jsonl", issuance), "catalog": catalog,
             "customers": hostile._jsonl(folder / "customers.jsonl", customers)}
    from custodes.detect.run import detect
    from custodes.lake.ingest import ingest

    workspace = Workspace.open(folder / "ws")
    for dataset, path in files.items():
        ingest(workspace, dataset, [str(path)])
    detect(workspace, full=True)
    return workspace


@pytest.fixture(scope="module")
def built(ws, server):
    from custodes.detect.store import load_incidents
    from custodes.engine import connect

    base, _ = server
    kid = payloads(base)["kid"]
    incident = next(i for i in load_incidents(ws) if kid in i["entities"]["kid"])
    with connect(ws) as engine:
        return report.build(engine, ws, incident["incident_id"], people=True)


@pytest.mark.parametrize("doc", documents.DOCS)
def test_no_markup_from_the_logs_reaches_the_html(built, doc):
    for lang in ("ko", "en"):
        html = documents.render(built, doc, lang, "html").decode()
        for tag in ("<img", "<script", "<iframe", "<link", "<b style"):
            assert tag not in html, (doc, lang, tag)
        assert html.count("<style") == 1  # the document's own
        assert "url(http" not in html.split("</style>", 1)[1].replace("&#34;", '"').split("&lt;", 1)[0]
    if doc == "annex":
        assert "&lt;/code&gt;&lt;style&gt;@import url(" in html  # the attacker's text is there, as text


def test_rendering_every_pdf_fetches_nothing(built, server, tmp_path):
    _, hits = server
    hits.clear()
    for doc in documents.DOCS:
        for lang in ("ko", "en"):
            documents.render(built, doc, lang, "pdf")
    assert hits == []
    annex = squash(" ".join(pages(documents.render(built, "annex", "en", "pdf"), tmp_path)))
    assert squash("</code><style>@import url(") in annex  # shown, not applied


def test_the_fetcher_refuses_even_markup_that_asks_for_urls(server):
    """Were data ever to reach the page as markup, laying it out still fetches nothing. The same
    page laid out with WeasyPrint's own fetcher does fetch: the test sees a fetch when there is one."""
    import weasyprint

    from custodes.respond.pdf import render_pdf

    base, hits = server
    page = (f'<html><head><link rel="stylesheet" href="{base}/a.css"><style>@import url({base}/b.css);'
            f'body{{background:url({base}/c.png)}}</style></head><body><img src="{base}/d.png">'
            f'<img src="file:///etc/passwd"><img src="data:image/svg+xml,%3Csvg/%3E">x</body></html>')
    hits.clear()
    assert render_pdf(page).startswith(b"%PDF-")
    assert hits == []
    weasyprint.HTML(string=page).write_pdf()
    assert hits, "the control rendering fetched nothing: the server cannot see fetches"


def test_an_endless_word_stays_on_the_page(built, tmp_path):
    for doc, lang in (("annex", "en"), ("notice", "ko")):
        sizes, found = words(documents.render(built, doc, lang, "pdf"), tmp_path)
        width = sizes[0][0]
        assert any("KKKK" in w for w, _, _ in found) or doc == "notice"
        over = [(w[:20], x1) for w, _, x1 in found if x1 > width + 0.5]
        assert not over, (doc, over[:3])


def test_the_mail_merge_file_smuggles_no_formula(built, ws, tmp_path):
    for lang in ("ko", "en"):
        path = documents.write(ws, built, "notice", lang, "csv", tmp_path / f"merge-{lang}.csv")
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
        assert len(rows) > 1
        assert not [c for row in rows for c in row if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
        ids = {row[0] for row in rows[1:]}
        assert "'" + hostile.FORMULA_SUBS[0] in ids  # kept, behind the quote
