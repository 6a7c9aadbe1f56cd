#!/usr/bin/env bash
# The README's demo command on a fresh machine with Python 3.11 and pip: the Debian packages the
# PDF documents need (when run as root and any is missing), the package, then `custodes demo`.
# Arguments go to `custodes demo` (--workspace DIR, --customers N, --days D, --seed S).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-packages.sh scripts/demo-packages.txt
python3 -m pip install -q --disable-pip-version-check -e .
exec python3 -m custodes demo "$@"
