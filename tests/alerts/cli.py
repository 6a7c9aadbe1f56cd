"""The real `custodes` program in a subprocess, for the alerts and triage CLI tests."""

from __future__ import annotations

import subprocess
import sys


def run(ws, *args, check=True):
    r = subprocess.run([sys.executable, "-m", "custodes", *args, "--workspace", str(ws.root)],
                       capture_output=True, text=True, timeout=120)
    if check:
        assert r.returncode == 0, r.stderr
    return r
