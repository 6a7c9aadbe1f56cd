#!/usr/bin/env bash
# ruff and mypy as pyproject.toml configures them (installed by scripts/setup.sh with the test
# extras); exits non-zero when either finds anything. mypy keeps its cache outside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m ruff check --no-cache src tests
python3 -m mypy --cache-dir "${CUSTODES_MYPY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/custodes-mypy}"
