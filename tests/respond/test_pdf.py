"""PDF rendering fails as one clear line, naming what to install, when Pango is absent."""

from __future__ import annotations

import importlib.abc
import sys

import pytest

from custodes.errors import CustodesError


class _NoPango(importlib.abc.MetaPathFinder):
    """`import weasyprint` as it goes on a machine without libpango: cffi's dlopen raises OSError."""

    def find_spec(self, name, path=None, target=None):
        if name == "weasyprint" or name.startswith("weasyprint."):
            raise OSError("cannot load library 'libpango-1.0-0': libpango-1.0-0: cannot open shared object file: "
                          "No such file or directory.  Additionally, ctypes.util.find_library() did not manage to "
                          "locate a library called 'libpango-1.0-0'")
        return None


@pytest.fixture
def no_pango(monkeypatch):
    for name in [n for n in sys.modules if n == "weasyprint" or n.startswith("weasyprint.")]:
        monkeypatch.delitem(sys.modules, name)
    finder = _NoPango()
    sys.meta_path.insert(0, finder)
    yield
    sys.meta_path.remove(finder)


def test_without_pango_the_error_is_one_line_naming_the_packages(no_pango):
    from custodes.respond.pdf import render_pdf

    with pytest.raises(CustodesError) as info:
        render_pdf("<p>x</p>")
    message = str(info.value)
    assert "\n" not in message and "libpango-1.0-0 libpangoft2-1.0-0" in message and "apt-get install" in message


def test_the_command_says_it_in_one_line(lake_ws, fake_detect, no_pango, capsys, tmp_path):
    from .test_commands import run

    code, out, err = run(capsys, "report", "--incident", "i-forgery", "--format", "pdf", "--out", str(tmp_path / "r.pdf"),
                         "--workspace", str(lake_ws.root))
    assert code == 1 and out == "" and "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("custodes: error")]
    assert len(errors) == 1 and "libpango-1.0-0" in errors[0]
    assert not (tmp_path / "r.pdf").exists()


def test_without_pango_the_demo_step_still_leaves_html(world, fake_detect, no_pango):
    from custodes.respond.pipeline import respond_all

    done = respond_all(world, world.workspace)
    assert set(done[0]["failed"]) == {"pipc-ko.pdf", "gdpr33-en.pdf"}
    assert "libpango-1.0-0" in done[0]["failed"]["pipc-ko.pdf"]
    assert set(done[0]["reports"]) == {"pipc-ko.html", "gdpr33-en.html"}


def test_the_demo_installs_what_the_pdfs_need():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "scripts"
    listed = lambda name: {line.strip() for line in (root / name).read_text().splitlines()  # noqa: E731
                           if line.strip() and not line.startswith("#")}
    assert {"libpango-1.0-0", "libpangoft2-1.0-0", "fonts-nanum"} <= listed("demo-packages.txt")
    assert listed("demo-packages.txt") <= listed("system-packages.txt")
    assert "scripts/demo-packages.txt" in (root / "demo.sh").read_text()
