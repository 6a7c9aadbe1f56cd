"""A breach document as PDF: its own HTML laid out by WeasyPrint, so the PDF and the HTML can
never drift apart (one template, docs/respond.md).

Nothing is fetched while rendering. The HTML comes with its style inline and its chart as inline
SVG, so the fetcher below refuses every URL (http, file, data, any scheme): even if text from a
forged token ever reached the page as markup, rendering it could not reach the network or read
a local file. Text is set in the system's fonts through Pango and fontconfig: Debian's
fonts-nanum (or fonts-noto-cjk) for Korean.
"""

from __future__ import annotations

import logging

from custodes.errors import CustodesError

#: the Debian packages WeasyPrint loads at import (scripts/system-packages.txt)
PANGO_PACKAGES = "libpango-1.0-0 libpangoft2-1.0-0"


def _weasyprint():
    try:
        import weasyprint
    except ImportError:
        raise CustodesError("PDF documents need WeasyPrint: pip install 'weasyprint>=70,<71'") from None
    except OSError as exc:  # cffi could not dlopen Pango
        raise CustodesError(f"PDF documents need Pango, which is not installed ({exc.__class__.__name__}: "
                            f"{str(exc).splitlines()[0][:120]}); on Debian: apt-get install {PANGO_PACKAGES} "
                            "(scripts/setup.sh installs it)") from None
    # WeasyPrint warns about every CSS property it ignores and every fetch refused: noise here
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    return weasyprint


def refusing_fetcher(weasyprint):
    """A URL fetcher that fetches nothing, and remembers what it was asked for."""

    class Refuse(weasyprint.urls.URLFetcher):
        def __init__(self):
            super().__init__(allowed_protocols=())
            self.refused: list[str] = []

        def fetch(self, url, headers=None):
            self.refused.append(url)
            raise ValueError(f"custodes renders documents offline; refused {url[:80]!r}")

    return Refuse()


def render_pdf(html: str) -> bytes:
    weasyprint = _weasyprint()
    fetcher = refusing_fetcher(weasyprint)
    return weasyprint.HTML(string=html, base_url=None, url_fetcher=fetcher).write_pdf()
