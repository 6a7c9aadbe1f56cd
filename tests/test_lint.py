"""ruff is clean on src/ and tests/ as pyproject.toml configures it (mypy, slower on a cold
cache, runs in scripts/lint.sh from .ci/run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing():
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise",
                          "src", "tests"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_ci_runs_the_linters_and_fails_with_them():
    ci = (ROOT / ".ci" / "run").read_text()
    lint = (ROOT / "scripts" / "lint.sh").read_text()
    assert "set -euo pipefail" in ci and "bash scripts/lint.sh" in ci
    assert "set -euo pipefail" in lint and "ruff check" in lint and "mypy" in lint
