#!/usr/bin/env bash
# Installs everything custodes and its tests need on a fresh machine with Python 3.11 and pip:
# the Debian packages in scripts/system-packages.txt (when run as root and any is missing), then
# the package itself with its test extras. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-packages.sh scripts/system-packages.txt
python3 -m pip install -q --disable-pip-version-check -e ".[test]"
