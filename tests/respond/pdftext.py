"""Reading a PDF as its reader would: poppler's pdftotext (poppler-utils, scripts/setup.sh)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest


def need(tool: str) -> None:
    if not shutil.which(tool):
        pytest.skip(f"{tool} (poppler-utils) is not installed")


def squash(text: str) -> str:
    """Text without whitespace: Korean wraps between any two syllables, and pdftotext turns each
    wrap into a space."""
    return re.sub(r"\s+", "", text)


def pages(pdf: bytes, tmp_path: Path) -> list[str]:
    """The text of each page, whitespace collapsed (a heading may wrap)."""
    need("pdftotext")
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return [re.sub(r"\s+", " ", page).strip() for page in text.split("\f") if page.strip()]


def outline(pdf: bytes, tmp_path: Path) -> list[str]:
    """The PDF's bookmarks (pdftohtml -xml lists them)."""
    need("pdftohtml")
    path = tmp_path / "outline.pdf"
    path.write_bytes(pdf)
    xml = subprocess.run(["pdftohtml", "-xml", "-i", "-stdout", "-q", str(path)], capture_output=True, text=True,
                         check=True).stdout
    return [re.sub(r"\s+", " ", m).strip() for m in re.findall(r"<item page=\"\d+\">(.*?)</item>", xml, re.S)]


def words(pdf: bytes, tmp_path: Path) -> tuple[list[tuple[float, float]], list[tuple[str, float, float]]]:
    """(page sizes, [(word, xMin, xMax)]) from pdftotext -bbox."""
    need("pdftotext")
    path = tmp_path / "bbox.pdf"
    path.write_bytes(pdf)
    html = subprocess.run(["pdftotext", "-bbox", str(path), "-"], capture_output=True, text=True, check=True).stdout
    sizes = [(float(w), float(h)) for w, h in re.findall(r'<page width="([\d.]+)" height="([\d.]+)"', html)]
    found = [(m[2], float(m[0]), float(m[1]))
             for m in re.findall(r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">(.*?)</word>', html)]
    return sizes, found
