"""Korean on paper: the first page of the Korean PIPC report, rasterised (pdftoppm), shows Hangul
as glyphs, not as the empty boxes a font without Hangul draws. The text layer cannot tell (it
holds the right characters either way), so the check is on pixels: the syllables of the title
look different from one another, while the same page laid out with only a Latin font (a
fontconfig that sees DejaVu alone) draws identical boxes, which the same check catches."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

import numpy as np
import pytest

from custodes.respond import documents

from .pdftext import need, words
from .test_report import configured  # noqa: F401 - the fixture

TITLE_WORDS = ("개인정보", "신고서")
SCALE = 150 / 72  # pdftoppm -r 150; pdftotext boxes are in points


def cells(pdf: bytes, tmp_path, word: str) -> list[np.ndarray]:
    """The word's glyphs on page 1, one ink bitmap per syllable (Hangul syllables are full width)."""
    from PIL import Image

    need("pdftoppm")
    _, found = words(pdf, tmp_path)
    _, x0, x1 = next(w for w in found if w[0] == word)
    path = tmp_path / "page.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-f", "1", "-l", "1", "-gray", "-png", str(path), str(tmp_path / "p")],
                   check=True)
    image = np.asarray(Image.open(next(tmp_path.glob("p*.png"))).convert("L")) < 128
    html_box = subprocess.run(["pdftotext", "-bbox", "-f", "1", "-l", "1", str(path), "-"], capture_output=True,
                              text=True, check=True).stdout
    import re

    y0, y1 = (float(v) for v in re.search(rf'yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">{word}<', html_box).groups())
    box = image[int(y0 * SCALE):int(y1 * SCALE) + 1, int(x0 * SCALE):int(x1 * SCALE) + 1]
    width = box.shape[1] / len(word)
    out = []
    for n in range(len(word)):
        cell = box[:, int(n * width):int((n + 1) * width)]
        out.append(np.asarray(Image.fromarray(cell.astype(np.uint8) * 255).resize((24, 24))) > 64)
    return out


def smallest_difference(glyphs: list[np.ndarray]) -> float:
    """The share of pixels in which the two most alike glyphs differ."""
    return min(float(np.mean(a != b)) for a, b in itertools.combinations(glyphs, 2))


def test_hangul_renders_as_glyphs_not_boxes(configured, tmp_path):  # noqa: F811
    html = documents.render(configured, "pipc", "ko", "html")
    pdf = documents.render(configured, "pipc", "ko", "pdf")
    for word in TITLE_WORDS:
        (tmp_path / word).mkdir()
        glyphs = cells(pdf, tmp_path / word, word)
        assert all(g.any() for g in glyphs), f"{word}: a syllable drew no ink"
        assert smallest_difference(glyphs) > 0.08, f"{word}: two syllables look the same (boxes?)"

    # The control: only DejaVu (no Hangul) visible to fontconfig; the same check must see boxes.
    conf = tmp_path / "fonts.conf"
    conf.write_text('<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
                    f'<dir>/usr/share/fonts/truetype/dejavu</dir><cachedir>{tmp_path}/fc-cache</cachedir></fontconfig>')
    if not os.path.isdir("/usr/share/fonts/truetype/dejavu"):
        pytest.skip("fonts-dejavu-core is not installed: no Latin-only control")
    (tmp_path / "doc.html").write_bytes(html)
    code = ("import sys; from custodes.respond.pdf import render_pdf; "
            "sys.stdout.buffer.write(render_pdf(open(sys.argv[1], encoding='utf-8').read()))")
    tofu = subprocess.run([sys.executable, "-c", code, str(tmp_path / "doc.html")], capture_output=True, check=True,
                          env=dict(os.environ, FONTCONFIG_FILE=str(conf))).stdout
    (tmp_path / "control").mkdir()
    boxes = cells(tofu, tmp_path / "control", TITLE_WORDS[0])
    assert smallest_difference(boxes) < 0.02, "the control drew Hangul: the check could not see boxes"
